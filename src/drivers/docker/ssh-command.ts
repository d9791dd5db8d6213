/**
 * A shell command on a Docker host over SSH — ssh2, the library the engine connection uses
 * (through docker-modem), with the same user, port, key and known_hosts verification — so
 * pre-flight checks read the host's /proc, df and nvidia-smi, not this machine's.
 */
import { Client } from "ssh2";
import { sshProblem, type EngineHost } from "./hosts.js";

export interface HostCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Output kept per stream: pre-flight commands print a few kilobytes; a runaway one must not fill memory. */
const MAX_OUTPUT = 1024 * 1024;

export function runOnHost(
  h: EngineHost,
  command: string,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<HostCommandResult> {
  const config = h.ssh;
  if (!config) return Promise.reject(new Error(`${h.key} is not reached over SSH`));
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let settled = false;
    const done = (err: unknown, r?: HostCommandResult) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener("abort", onAbort);
      conn.end();
      if (r) return resolve(r);
      const msg = err instanceof Error ? err.message : String(err);
      reject(new Error(sshProblem(msg) ?? msg));
    };
    const onAbort = () => {
      conn.destroy();
      done(new Error(`no answer within ${((opts.timeoutMs ?? 0) / 1000).toFixed(1)}s`));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    conn.on("error", (e) => done(e));
    conn.on("ready", () => {
      conn.exec(command, (err, stream) => {
        if (err) return done(err);
        let stdout = "";
        let stderr = "";
        let code: number | undefined;
        stream.on("data", (d: Buffer) => {
          if (stdout.length < MAX_OUTPUT) stdout += d.toString("utf8");
        });
        stream.stderr.on("data", (d: Buffer) => {
          if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
        });
        stream.on("exit", (c: number | null) => {
          code = c ?? -1;
        });
        stream.on("close", () => done(undefined, { code: code ?? -1, stdout, stderr }));
      });
    });
    const readyTimeout = Math.min(config.readyTimeout ?? 15_000, opts.timeoutMs ?? Infinity);
    try {
      conn.connect({ ...config, readyTimeout });
    } catch (e) {
      done(e);
    }
  });
}
