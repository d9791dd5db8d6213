/**
 * Redis probe: PING → PONG over the real protocol, with AUTH when the URL carries a password and
 * SELECT when it names a database. The client is ioredis, held on a short leash: one connection,
 * no retries, no offline queue, no ready check, and the caller's deadline wins over everything.
 * Each command is sent on its own so a refusal names the command that was refused.
 */
import type { Redis as RedisClient } from "ioredis";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { describeUrl } from "../util/redact.js";
import { abortReason, deadline } from "./signal.js";

interface Target {
  host: string;
  port: number;
  tls: boolean;
  user: string;
  password: string;
  db: string;
}

function parseRedisUrl(url: string): Target {
  if (!url) throw new Error("no Redis URL (empty: is the ${VAR} it comes from set?)");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a Redis URL: ${describeUrl(url)}`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new Error(`not a Redis URL (redis:// or rediss://): ${describeUrl(url)}`);
  }
  return {
    host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: Number(u.port || 6379),
    tls: u.protocol === "rediss:",
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    db: u.pathname.replace(/^\//, ""),
  };
}

/** A reply error from the server (`-ERR …`), as opposed to a transport failure. */
const isReplyError = (e: unknown): e is Error => e instanceof Error && e.name === "ReplyError";

async function converse(client: RedisClient, t: Target, where: string): Promise<string> {
  await client.connect();
  const commands: { args: [string, ...string[]]; what: string }[] = [];
  if (t.password)
    commands.push({ args: t.user ? ["AUTH", t.user, t.password] : ["AUTH", t.password], what: "AUTH" });
  if (t.db && t.db !== "0") commands.push({ args: ["SELECT", t.db], what: `SELECT ${t.db}` });
  commands.push({ args: ["PING"], what: "PING" });
  let reply: unknown;
  for (const c of commands) {
    try {
      reply = await client.call(...c.args);
    } catch (e) {
      if (isReplyError(e)) throw new Error(`${where}: ${c.what} refused: ${e.message}`);
      throw e;
    }
  }
  if (reply !== "PONG")
    throw new Error(`${where}: PING answered ${JSON.stringify(String(reply).slice(0, 80))}, not PONG`);
  return "PONG";
}

export async function pingRedis(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ reply: string; durationMs: number }> {
  const started = performance.now();
  const t = parseRedisUrl(url);
  const where = `redis ${describeUrl(url)}`;
  // Loaded here, before the clock starts: the CLI must start without the client
  // (test/e2e/startup.test.ts), and loading it is not the server's time.
  const { Redis } = await import("ioredis");
  const sig = deadline(timeoutMs, signal);
  if (sig.aborted) throw new Error(`${where}: ${abortReason(sig, timeoutMs)}`);
  const client = new Redis({
    host: t.host,
    port: t.port,
    tls: t.tls ? { servername: t.host.includes(":") ? undefined : t.host } : undefined,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let transportError: NodeJS.ErrnoException | undefined;
  client.on("error", (e: NodeJS.ErrnoException) => (transportError ??= e));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(`${where}: ${abortReason(sig, timeoutMs)}`));
    sig.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const reply = await Promise.race([converse(client, t, where), aborted]);
    return { reply, durationMs: performance.now() - started };
  } catch (e) {
    if ((e as Error).message.startsWith(`${where}: `)) throw e;
    const cause = transportError ?? (e as NodeJS.ErrnoException);
    if (cause.code) throw new Error(`${where}: ${cause.code}`);
    if (cause.message.startsWith("Protocol error"))
      throw new Error(`${where}: the answer is not the Redis protocol`);
    throw new Error(`${where}: connection closed before PONG (${cause.message})`);
  } finally {
    if (onAbort) sig.removeEventListener("abort", onAbort);
    client.disconnect();
  }
}

export class RedisProbe implements Probe {
  readonly kind = "redis";
  constructor(private readonly url: string) {}

  async check(_target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const started = performance.now();
    try {
      const r = await pingRedis(this.url, opts.timeoutMs, opts.signal);
      return {
        ok: true,
        message: `Redis at ${describeUrl(this.url)} answered PONG in ${Math.round(r.durationMs)}ms`,
        durationMs: r.durationMs,
      };
    } catch (e) {
      return { ok: false, message: (e as Error).message, durationMs: performance.now() - started };
    }
  }
}
