/**
 * Redis probe: PING → PONG over the real protocol (RESP), with AUTH when the URL carries a
 * password and SELECT when it names a database. A tiny client of our own: a probe needs one
 * round trip and exact control of the deadline, not a reconnecting client.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { describeUrl } from "./redact.js";
import { abortReason, deadline } from "./signal.js";

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

/** Sends each command in turn and collects the one-line replies (+OK, +PONG, -ERR …). */
export async function pingRedis(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ reply: string; durationMs: number }> {
  const started = performance.now();
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
  const host = u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = Number(u.port || 6379);
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const db = u.pathname.replace(/^\//, "");
  const commands: { args: string[]; what: string }[] = [];
  if (password) commands.push({ args: user ? ["AUTH", user, password] : ["AUTH", password], what: "AUTH" });
  if (db && db !== "0") commands.push({ args: ["SELECT", db], what: `SELECT ${db}` });
  commands.push({ args: ["PING"], what: "PING" });

  const where = `redis ${describeUrl(url)}`;
  const sig = deadline(timeoutMs, signal);
  return new Promise((resolve, reject) => {
    if (sig.aborted) return reject(new Error(`${where}: ${abortReason(sig, timeoutMs)}`));
    const socket: Socket =
      u.protocol === "rediss:"
        ? tlsConnect({ host, port, servername: host.includes(":") ? undefined : host })
        : netConnect({ host, port });
    let buf = "";
    let i = 0;
    let settled = false;
    const settle = (err?: Error, reply?: string) => {
      if (settled) return;
      settled = true;
      sig.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve({ reply: reply ?? "", durationMs: performance.now() - started });
    };
    const onAbort = () => settle(new Error(`${where}: ${abortReason(sig, timeoutMs)}`));
    sig.addEventListener("abort", onAbort, { once: true });
    socket.once(u.protocol === "rediss:" ? "secureConnect" : "connect", () => {
      socket.write(commands.map((c) => encode(c.args)).join(""));
    });
    socket.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = commands[i++];
        if (!cmd) return;
        if (line.startsWith("-")) return settle(new Error(`${where}: ${cmd.what} refused: ${line.slice(1)}`));
        if (cmd.what === "PING") {
          if (line === "+PONG") return settle(undefined, "PONG");
          return settle(new Error(`${where}: PING answered ${JSON.stringify(line.slice(0, 80))}, not PONG`));
        }
      }
    });
    socket.once("error", (e: NodeJS.ErrnoException) => settle(new Error(`${where}: ${e.code ?? e.message}`)));
    socket.once("close", () => settle(new Error(`${where}: connection closed before PONG`)));
  });
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
