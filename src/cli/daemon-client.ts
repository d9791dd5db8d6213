/** Finds (or starts) the local daemon and runs operations on it over its authenticated HTTP API. */
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { closeSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrivateHome, SlipwayError, type OpContext, type OpPayload, type WireError } from "../core.js";
import type { EngineEvent, LogLine } from "../index.js";

export interface DaemonInfo {
  url: string;
  pid: number;
  startedAt: string;
}

export class RemoteError extends SlipwayError {
  readonly exitCode?: number;
  constructor(public readonly wire: WireError) {
    super(wire.message);
    this.exitCode = wire.exitCode;
    this.name = wire.name;
    this.details = wire.details;
  }
}

function readInfo(home: string): DaemonInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as DaemonInfo;
  } catch {
    return undefined;
  }
}

export function readToken(home: string): string | undefined {
  try {
    return readFileSync(join(home, "daemon.token"), "utf8").trim();
  } catch {
    return undefined;
  }
}

/** GET /v1/health with node:http (the first fetch() of a process costs more than the whole call). */
function answers(url: string, pid?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/v1/health`, { method: "GET", timeout: 1000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve(false);
        // The address may now belong to another daemon (another SLIPWAY_HOME): check its pid.
        try {
          resolve(pid === undefined || (JSON.parse(body) as { pid?: number }).pid === pid);
        } catch {
          resolve(false);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** The running daemon for `home`, started in the background if needed (one spawner at a time). */
export async function ensureDaemon(home: string): Promise<{ url: string; token: string }> {
  const running = async () => {
    const info = readInfo(home);
    if (info && (await answers(info.url, info.pid))) {
      const token = readToken(home);
      if (token) return { url: info.url, token };
    }
    return undefined;
  };
  const found = await running();
  if (found) return found;
  ensurePrivateHome(home);
  const lockFile = join(home, "daemon.spawn.lock");
  let spawner = false;
  try {
    closeSync(openSync(lockFile, "wx", 0o600));
    spawner = true;
  } catch {
    // Someone else is starting it; a lock older than 30 s is stale.
    try {
      if (Date.now() - statSync(lockFile).mtimeMs > 30_000) {
        rmSync(lockFile, { force: true });
        return ensureDaemon(home);
      }
    } catch {
      /* removed meanwhile */
    }
  }
  try {
    if (spawner) {
      const again = await running();
      if (again) return again;
      const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "slipway.js");
      const log = openSync(join(home, "daemon.log"), "a", 0o600);
      const child = spawn(process.execPath, [bin, "serve", "--port", "0"], {
        detached: true,
        stdio: ["ignore", log, log],
        env: { ...process.env, SLIPWAY_HOME: home },
      });
      child.unref();
      closeSync(log);
    }
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 40));
      const r = await running();
      if (r) return r;
    }
    throw new SlipwayError(`the Slipway daemon did not start; see ${join(home, "daemon.log")}`);
  } finally {
    if (spawner) rmSync(lockFile, { force: true });
  }
}

/** Raised when nothing listens at the daemon's address (it can be started and the call retried). */
export class DaemonUnreachable extends SlipwayError {}
/** The server refused the token (a wrong --token, or another daemon now owns the address). */
export class TokenRefused extends SlipwayError {}

/** POST an operation; the daemon answers with NDJSON: events, log lines, then one result or error. */
export function runRemote(
  server: { url: string; token: string },
  op: string,
  payload: OpPayload,
  ctx: OpContext,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    let result: unknown;
    let error: WireError | undefined;
    let buf = "";
    const handle = (line: string) => {
      if (!line.trim()) return;
      const msg = JSON.parse(line) as
        | { type: "event"; event: EngineEvent }
        | { type: "line"; line: LogLine }
        | { type: "result"; result: unknown }
        | { type: "error"; error: WireError };
      if (msg.type === "event") ctx.emit(msg.event);
      else if (msg.type === "line") ctx.line?.(msg.line);
      else if (msg.type === "result") result = msg.result;
      else if (msg.type === "error") error = msg.error;
    };
    const req = httpRequest(
      `${server.url}/v1/ops/${op}`,
      {
        method: "POST",
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${server.token}`,
        },
        signal: ctx.signal,
      },
      (res) => {
        if (res.statusCode === 401) {
          res.resume();
          return reject(new TokenRefused(`the daemon at ${server.url} refused the token (401)`));
        }
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            handle(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
        });
        res.on("end", () => {
          try {
            handle(buf);
          } catch (e) {
            return reject(e);
          }
          if (error) reject(new RemoteError(error));
          else resolve(result);
        });
        res.on("error", (e) =>
          reject(new SlipwayError(`the daemon at ${server.url} went away: ${e.message}`)),
        );
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT")
        reject(new DaemonUnreachable(`cannot reach the Slipway daemon at ${server.url}: ${e.code}`));
      else reject(new SlipwayError(`cannot reach the Slipway daemon at ${server.url}: ${e.message}`));
    });
    req.end(body);
  });
}

/** The daemon's address from SLIPWAY_HOME without probing it (the operation itself is the probe). */
export function knownDaemon(home: string): { url: string; token: string } | undefined {
  const info = readInfo(home);
  const token = readToken(home);
  return info && token ? { url: info.url, token } : undefined;
}
