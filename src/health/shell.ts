/** A probe or check command with a deadline (util/command.ts runs it), worded as evidence. */
import { runShellCommand } from "../util/command.js";
import { abortReason, deadline } from "./signal.js";

export interface ShellResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the deadline or the caller's signal ended the command. */
  aborted?: string;
  /** The last `tailBytes` of stdout and stderr, interleaved as they came. */
  tail: string;
  durationMs: number;
}

export async function runShell(
  command: string,
  opts: {
    cwd: string;
    env?: Record<string, string | undefined>;
    timeoutMs: number;
    signal?: AbortSignal;
    tailBytes?: number;
  },
): Promise<ShellResult> {
  const limit = opts.tailBytes ?? 4096;
  const sig = deadline(opts.timeoutMs, opts.signal);
  const r = await runShellCommand(command, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    signal: sig,
    maxOutput: limit,
  });
  if (r.error) {
    const why = r.error.code === "ENOENT" ? `working directory not found: ${opts.cwd}` : r.error.message;
    return { code: 127, signal: null, tail: `${r.output}${why}\n`.slice(-limit), durationMs: r.durationMs };
  }
  return {
    code: r.code,
    signal: r.signal,
    ...(r.ended ? { aborted: abortReason(sig, opts.timeoutMs) } : {}),
    tail: r.output.slice(-limit),
    durationMs: r.durationMs,
  };
}

/** The last `n` non-empty lines of a command's output. */
export function lastLines(text: string, n: number): string {
  const lines = text.replace(/\r/g, "").split("\n");
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  return lines.slice(-n).join("\n");
}
