/** Finds (or starts) the local daemon and runs operations on it over its authenticated HTTP API. */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SlipwayError } from "../errors.js";
import type { OpContext, OpPayload, WireError } from "../ops.js";
import type { EngineEvent } from "../engine/events.js";
import type { LogLine } from "../drivers/driver.js";

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

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** The running daemon for `home`, started in the background if needed (one spawner at a time). */
export async function ensureDaemon(home: string): Promise<{ url: string; token: string }> {
  const running = async () => {
    const info = readInfo(home);
    if (info && (await answers(info.url))) {
      const token = readToken(home);
      if (token) return { url: info.url, token };
    }
    return undefined;
  };
  const found = await running();
  if (found) return found;
  mkdirSync(home, { recursive: true, mode: 0o700 });
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

/** POST an operation; the daemon answers with NDJSON: events, log lines, then one result or error. */
export async function runRemote(
  server: { url: string; token: string },
  op: string,
  payload: OpPayload,
  ctx: OpContext,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${server.url}/v1/ops/${op}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
      body: JSON.stringify(payload),
      signal: ctx.signal,
    });
  } catch (e) {
    throw new SlipwayError(`cannot reach the Slipway daemon at ${server.url}: ${(e as Error).message}`);
  }
  if (res.status === 401) throw new SlipwayError(`the daemon at ${server.url} refused the token (401)`);
  if (!res.body) throw new SlipwayError(`empty answer from the daemon (${res.status})`);
  const decoder = new TextDecoder();
  let buf = "";
  let result: unknown;
  let error: WireError | undefined;
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
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  handle(buf);
  if (error) throw new RemoteError(error);
  return result;
}

export const daemonInfoExists = (home: string) => existsSync(join(home, "daemon.json"));
