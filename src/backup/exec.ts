/** Running the dump/restore tools: passwords in the environment only, stderr kept (redacted) for errors. */
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OperationFailed } from "../errors.js";

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Piped into the tool's stdin (a file path or a stream). */
  stdin?: string | Readable;
  /** The tool's stdout is piped here (ended when the tool is done); otherwise it is collected. */
  stdout?: Writable;
  /** Values to blank out of error messages. */
  secrets?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const TAIL = 4000;

/** Remove secrets from a text (a password, a URL's password part). */
export function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join("***");
  return out.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]+@/g, "$1***@");
}

/** A URL with its password replaced by *** (for messages and records). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return scrub(url, []);
  }
}

/**
 * Run `cmd args` and wait for it. Rejects with OperationFailed naming the tool and the tail
 * of its stderr when it exits non-zero. argv never carries a secret (callers use env).
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  const out = child.stdout!;
  const err = child.stderr!;
  let stderr = "";
  let stdout = "";
  err.setEncoding("utf8");
  err.on("data", (d: string) => {
    stderr = (stderr + d).slice(-TAIL);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  const tasks: Promise<unknown>[] = [];
  if (opts.stdout) tasks.push(pipeline(out, opts.stdout));
  else {
    out.setEncoding("utf8");
    out.on("data", (d: string) => {
      stdout += d;
    });
  }
  if (opts.stdin !== undefined && child.stdin) {
    const src = typeof opts.stdin === "string" ? createReadStream(opts.stdin) : opts.stdin;
    tasks.push(
      pipeline(src, child.stdin).catch((e: NodeJS.ErrnoException) => {
        // The tool may exit early (an error); its exit status tells the story, not EPIPE.
        if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_PREMATURE_CLOSE") throw e;
      }),
    );
  }
  let result: { code: number | null; signal: NodeJS.Signals | null };
  try {
    const [r] = await Promise.all([exited, ...tasks]);
    result = r as typeof result;
  } catch (e) {
    child.kill("SIGKILL");
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT" && err.syscall?.startsWith("spawn"))
      throw new OperationFailed(`${cmd} not found: install it or put it on PATH`);
    throw new OperationFailed(`${cmd}: ${scrub(err.message, opts.secrets ?? [])}`);
  }
  if (result.code !== 0) {
    const why = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
    const tail = scrub(stderr.trim(), opts.secrets ?? []);
    throw new OperationFailed(`${cmd.split("/").pop()} ${why}${tail ? `: ${tail}` : ""}`);
  }
  return { stdout, stderr };
}

/** A write stream to a file, created 0600 (backups hold data). */
export function privateWriteStream(path: string): Writable {
  return createWriteStream(path, { mode: 0o600 });
}

/**
 * The backup block's `url`, parsed and checked against the provider's schemes; errors name the
 * provider and never show a password.
 */
export function backupUrl(
  kind: string,
  url: string | undefined,
  protocols: string[],
): { u: URL; url: string } {
  if (!url) throw new OperationFailed(`${kind} backup: no url configured`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OperationFailed(`${kind} backup: url is not a URL (${redactUrl(url)})`);
  }
  if (!protocols.includes(u.protocol))
    throw new OperationFailed(
      `${kind} backup: expected a ${protocols.map((p) => `${p}//`).join(" or ")} url, got ${u.protocol}//…`,
    );
  return { u, url };
}
