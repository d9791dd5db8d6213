/** Running a shell command with a deadline, killing its whole process group when it is over. */
import { spawn } from "node:child_process";
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

export function runShell(
  command: string,
  opts: {
    cwd: string;
    env?: Record<string, string | undefined>;
    timeoutMs: number;
    signal?: AbortSignal;
    tailBytes?: number;
  },
): Promise<ShellResult> {
  const started = performance.now();
  const limit = opts.tailBytes ?? 4096;
  const sig = deadline(opts.timeoutMs, opts.signal);
  return new Promise((resolve) => {
    let tail = "";
    let aborted: string | undefined;
    const child = spawn("/bin/sh", ["-c", command], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a timeout kills `npm test` and everything it started.
      detached: true,
    });
    const take = (d: Buffer) => {
      tail += d.toString("utf8");
      if (tail.length > limit * 2) tail = tail.slice(-limit);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const kill = () => {
      aborted = abortReason(sig, opts.timeoutMs);
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    if (sig.aborted) kill();
    else sig.addEventListener("abort", kill, { once: true });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      sig.removeEventListener("abort", kill);
      resolve({
        code,
        signal,
        ...(aborted ? { aborted } : {}),
        tail: tail.slice(-limit),
        durationMs: performance.now() - started,
      });
    };
    child.once("error", (e: NodeJS.ErrnoException) => {
      tail += `${e.code === "ENOENT" ? `working directory not found: ${opts.cwd}` : e.message}\n`;
      finish(127, null);
    });
    child.once("close", finish);
  });
}

/** The last `n` non-empty lines of a command's output. */
export function lastLines(text: string, n: number): string {
  const lines = text.replace(/\r/g, "").split("\n");
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  return lines.slice(-n).join("\n");
}
