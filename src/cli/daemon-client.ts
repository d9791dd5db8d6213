/**
 * Finds (or starts) the local daemon and runs operations on it: over its 0600 unix socket under
 * SLIPWAY_HOME (the owner of SLIPWAY_HOME is admin; no token), or over HTTP(S) with a token
 * (`--server URL --token T`).
 */
import { spawn } from "node:child_process";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { closeSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrivateHome, SlipwayError, type OpContext, type OpPayload, type WireError } from "../core.js";
import type { EngineEvent, LogLine } from "../index.js";

export interface DaemonInfo {
  url: string;
  /** The unix socket of the local CLI (absent in a daemon.json written by an older Slipway). */
  socket?: string;
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

/** Where a daemon answers: its unix socket (local, admin), or a URL with a token. */
export interface Endpoint {
  url: string;
  socket?: string;
  token?: string;
}

/** node:http request options for a path on the endpoint (https for an https URL). */
function target(
  server: Endpoint,
  path: string,
): { request: typeof httpRequest; url: string; options: RequestOptions } {
  if (server.socket)
    return { request: httpRequest, url: `http://localhost${path}`, options: { socketPath: server.socket } };
  const url = `${server.url}${path}`;
  const request = url.startsWith("https:") ? (httpsRequest as typeof httpRequest) : httpRequest;
  return {
    request,
    url,
    options: server.token ? { headers: { authorization: `Bearer ${server.token}` } } : {},
  };
}

/** GET /v1/health with node:http (the first fetch() of a process costs more than the whole call). */
function answers(server: Endpoint, pid?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = target(server, "/v1/health");
    const req = t.request(t.url, { ...t.options, method: "GET", timeout: 1000, agent: false }, (res) => {
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
export async function ensureDaemon(home: string): Promise<Endpoint> {
  const running = async () => {
    const known = knownDaemon(home);
    if (known && (await answers(known, readInfo(home)?.pid))) return known;
    return undefined;
  };
  const found = await running();
  if (found) return found;
  const old = readInfo(home);
  if (old && !old.socket && (await answers({ url: old.url }, old.pid)))
    throw new SlipwayError(
      `an older Slipway daemon (pid ${old.pid}, ${old.url}) serves ${home} without a unix socket: ` +
        `stop it (kill ${old.pid}) and run the command again; this version starts its own`,
    );
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
  server: Endpoint,
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
    const t = target(server, `/v1/ops/${op}`);
    const req = t.request(
      t.url,
      {
        ...t.options,
        method: "POST",
        agent: false,
        headers: {
          ...t.options.headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        signal: ctx.signal,
      },
      (res) => {
        if (res.statusCode !== 200) return refusedBy(server, res, reject);
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
          reject(new SlipwayError(`the daemon at ${where(server)} went away: ${e.message}`)),
        );
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT")
        reject(new DaemonUnreachable(`cannot reach the Slipway daemon at ${where(server)}: ${e.code}`));
      else reject(new SlipwayError(`cannot reach the Slipway daemon at ${where(server)}: ${e.message}`));
    });
    req.end(body);
  });
}

/** The local daemon's socket from SLIPWAY_HOME without probing it (the operation itself is the probe). */
export function knownDaemon(home: string): Endpoint | undefined {
  const info = readInfo(home);
  return info?.socket ? { url: info.url, socket: info.socket } : undefined;
}

const where = (server: Endpoint) => server.socket ?? server.url;

/** A non-200 answer: 401 is TokenRefused (retry elsewhere), the rest the daemon's own error. */
function refusedBy(server: Endpoint, res: IncomingMessage, reject: (e: Error) => void): void {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (d: string) => (text += d));
  res.on("end", () => {
    let wire: WireError = {
      name: "DaemonError",
      message: `the daemon at ${where(server)} answered ${res.statusCode}`,
    };
    try {
      const e = (JSON.parse(text) as { error?: WireError }).error;
      if (e?.message) wire = { ...e, message: `${e.message} (${res.statusCode})` };
    } catch {
      /* not JSON */
    }
    if (res.statusCode === 401)
      return reject(
        new TokenRefused(`the daemon at ${where(server)} refused the credentials: ${wire.message}`),
      );
    // 403: refused by the caller's role (exit 4); 400/413: a bad request (exit 2).
    reject(
      new RemoteError({ ...wire, exitCode: res.statusCode === 403 ? 4 : res.statusCode === 429 ? 1 : 2 }),
    );
  });
}

/** A JSON request to the daemon (users, tokens, session): the parsed answer or a RemoteError. */
export function requestJson(
  server: Endpoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const t = target(server, path);
    const req = t.request(
      t.url,
      {
        ...t.options,
        method,
        agent: false,
        headers: {
          ...t.options.headers,
          ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        if ((res.statusCode ?? 500) >= 300) return refusedBy(server, res, reject);
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          try {
            resolve(JSON.parse(text));
          } catch (e) {
            reject(
              new SlipwayError(`the daemon at ${where(server)} answered no JSON: ${(e as Error).message}`),
            );
          }
        });
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT")
        reject(new DaemonUnreachable(`cannot reach the Slipway daemon at ${where(server)}: ${e.code}`));
      else reject(new SlipwayError(`cannot reach the Slipway daemon at ${where(server)}: ${e.message}`));
    });
    req.end(data);
  });
}
