/** Running the dump/restore tools: passwords in the environment only, stderr kept (redacted) for errors. */
import { makeRedactor, MASK, redactUrl as redactUrlText } from "../util/redact.js";
import { createWriteStream } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { OperationFailed } from "../errors.js";
import { runCommand } from "../util/command.js";

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

/** Remove secrets from a text (a password, a URL's password part): the one redactor's rules. */
export function scrub(text: string, secrets: (string | undefined)[]): string {
  return makeRedactor(secrets)(text);
}

/** A URL with its password replaced by *** (for messages and records). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return redactUrlText(u.toString());
  } catch {
    return redactUrlText(url);
  }
}

/**
 * Run `cmd args` and wait for it. Rejects with OperationFailed naming the tool and the tail
 * of its stderr when it exits non-zero. argv never carries a secret (callers use env).
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  let r;
  try {
    r = await runCommand(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdin: opts.stdin,
      stdout: opts.stdout,
      uid: opts.uid,
      gid: opts.gid,
      maxOutput: TAIL,
      maxStdout: Infinity,
    });
  } catch (e) {
    throw new OperationFailed(`${cmd}: ${scrub((e as Error).message, opts.secrets ?? [])}`);
  }
  if (r.error) {
    if (r.error.code === "ENOENT")
      throw new OperationFailed(`${cmd} not found: install it or put it on PATH`);
    throw new OperationFailed(`${cmd}: ${scrub(r.error.message, opts.secrets ?? [])}`);
  }
  if (r.code !== 0) {
    const why = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
    const tail = scrub(r.stderr.slice(-TAIL).trim(), opts.secrets ?? []);
    throw new OperationFailed(`${cmd.split("/").pop()} ${why}${tail ? `: ${tail}` : ""}`);
  }
  return { stdout: r.stdout, stderr: r.stderr.slice(-TAIL) };
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
