/**
 * The one way Slipway runs an external program and waits for it: probes and checks (a shell
 * command with a deadline), one-off commands of a release, backup tools (streams in and out),
 * nvidia-smi. Callers differ only in how they word the result.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Kill the command after this long (`ended: "timeout"`). */
  timeoutMs?: number;
  /** Kill the command when this aborts (`ended: "aborted"`). */
  signal?: AbortSignal;
  /**
   * Run in its own process group and kill the whole group (a timeout then also ends what the
   * command started, such as `npm test`'s children).
   */
  group?: boolean;
  /** On timeout: SIGTERM first and SIGKILL this much later (default: SIGKILL at once). */
  termGraceMs?: number;
  /** Kill what is left of the group once the command exits (background children). */
  killGroupOnExit?: boolean;
  /** How much of the output (and of stderr) to keep (the end is kept); default 1 MiB. */
  maxOutput?: number;
  /** How much of stdout alone to keep (default: maxOutput); Infinity for tools whose answer is stdout. */
  maxStdout?: number;
  /** Piped into stdin (a file path or a stream); otherwise stdin is closed. */
  stdin?: string | Readable;
  /** stdout is piped here (ended when the command is done) instead of being collected. */
  stdout?: Writable;
  uid?: number;
  gid?: number;
}

export interface CommandResult {
  /** Exit code, or null when killed by a signal (or when it could not start). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why Slipway ended the command, when it did. */
  ended?: "timeout" | "aborted";
  /** stdout and stderr interleaved as they came (the last `maxOutput` characters). */
  output: string;
  stdout: string;
  stderr: string;
  /** The command could not be started (ENOENT: no such program, or no such cwd). */
  error?: NodeJS.ErrnoException;
  durationMs: number;
}

/** Runs `/bin/sh -c command` in its own process group. */
export function runShellCommand(command: string, opts: CommandOptions = {}): Promise<CommandResult> {
  return runCommand("/bin/sh", ["-c", command], { group: true, ...opts });
}

/** The conventional exit code of a result: its code, else 128 + the number of its signal. */
export function exitCodeOf(r: Pick<CommandResult, "code" | "signal">): number {
  return r.code ?? 128 + (r.signal ? (osConstants.signals[r.signal] ?? 0) : 0);
}

export async function runCommand(
  file: string,
  args: string[],
  opts: CommandOptions = {},
): Promise<CommandResult> {
  const started = performance.now();
  const limit = opts.maxOutput ?? 1024 * 1024;
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: opts.group ?? false,
    stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  const r = { output: "", stdout: "", stderr: "" };
  const keep = (k: keyof typeof r) => (d: string) => {
    const max = k === "stdout" ? (opts.maxStdout ?? limit) : limit;
    r[k] += d;
    if (r[k].length > max * 2) r[k] = r[k].slice(-max);
  };
  const [out, err] = [child.stdout as Readable, child.stderr as Readable];
  err.setEncoding("utf8").on("data", (d: string) => (keep("stderr")(d), keep("output")(d)));
  const streams: Promise<unknown>[] = [];
  if (opts.stdout) streams.push(pipeline(out, opts.stdout));
  else out.setEncoding("utf8").on("data", (d: string) => (keep("stdout")(d), keep("output")(d)));
  if (opts.stdin !== undefined && child.stdin) {
    const src = typeof opts.stdin === "string" ? createReadStream(opts.stdin) : opts.stdin;
    streams.push(
      pipeline(src, child.stdin).catch((e: NodeJS.ErrnoException) => {
        // The command may exit early (an error); its exit status tells the story, not EPIPE.
        if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_PREMATURE_CLOSE") throw e;
      }),
    );
  }
  const killer = new Killer(child.pid, opts.group ?? false, (s) => child.kill(s));
  let ended: CommandResult["ended"];
  let forced: NodeJS.Timeout | undefined;
  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          ended ??= "timeout";
          if (opts.termGraceMs === undefined) return killer.kill("SIGKILL");
          killer.kill("SIGTERM");
          forced = setTimeout(() => killer.kill("SIGKILL"), opts.termGraceMs);
        }, opts.timeoutMs)
      : undefined;
  const onAbort = () => {
    ended ??= "aborted";
    killer.kill("SIGKILL");
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
      child.once("close", (code, signal) => resolve({ code, signal }));
    },
  );
  try {
    const [x, ...piped] = await Promise.allSettled([exited, ...streams]);
    const done = (x as PromiseFulfilledResult<Awaited<typeof exited>>).value;
    if (done.error) return { ...done, ...r, error: done.error, durationMs: performance.now() - started };
    const broken = piped.find((p): p is PromiseRejectedResult => p.status === "rejected");
    if (broken) throw broken.reason;
    return { ...done, ...(ended ? { ended } : {}), ...r, durationMs: performance.now() - started };
  } finally {
    clearTimeout(timer);
    clearTimeout(forced);
    opts.signal?.removeEventListener("abort", onAbort);
    if (opts.killGroupOnExit) killer.kill("SIGKILL");
  }
}

/** Signals a child, or its whole process group; a group already gone is not an error. */
class Killer {
  constructor(
    private readonly pid: number | undefined,
    private readonly group: boolean,
    private readonly direct: (s: NodeJS.Signals) => void,
  ) {}

  kill(sig: NodeJS.Signals): void {
    if (!this.group || !this.pid) return void this.direct(sig);
    try {
      process.kill(-this.pid, sig);
    } catch {
      this.direct(sig);
    }
  }
}
