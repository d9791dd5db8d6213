/** PostgreSQL probe: a real protocol handshake with `pg`, then `select 1`. */
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { describeUrl, redactUrl } from "../util/redact.js";
import { abortReason, deadline } from "./signal.js";

/** Connects, runs `select 1` and `show server_version`; resolves with the server version. */
export async function pingPostgres(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ serverVersion: string; durationMs: number }> {
  const started = performance.now();
  if (!url) throw new Error("no PostgreSQL URL (empty: is the ${VAR} it comes from set?)");
  const sig = deadline(timeoutMs, signal);
  const { default: pg } = await import("pg"); // loaded on first use: keeps the daemon's start light
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: Math.max(1, Math.floor(timeoutMs)),
    query_timeout: Math.max(1, Math.floor(timeoutMs)),
    application_name: "slipway-probe",
  });
  // pg emits 'error' on the client for a connection lost after connect; without a listener it throws.
  client.on("error", () => {});
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(abortReason(sig, timeoutMs)));
    if (sig.aborted) onAbort();
    else sig.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    const work = (async () => {
      await client.connect();
      await client.query("select 1");
      const v = await client.query<{ server_version: string }>("show server_version");
      return v.rows[0]?.server_version ?? "unknown";
    })();
    work.catch(() => {});
    const serverVersion = await Promise.race([work, aborted]);
    return { serverVersion, durationMs: performance.now() - started };
  } catch (e) {
    throw new Error(`postgres ${describeUrl(url)}: ${redactUrl((e as Error).message)}`);
  } finally {
    if (onAbort) sig.removeEventListener("abort", onAbort);
    client.end().catch(() => {});
  }
}

export class PostgresProbe implements Probe {
  readonly kind = "postgres";
  constructor(private readonly url: string) {}

  async check(_target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const started = performance.now();
    try {
      const r = await pingPostgres(this.url, opts.timeoutMs, opts.signal);
      return {
        ok: true,
        message: `PostgreSQL ${r.serverVersion} at ${describeUrl(this.url)} answered select 1 in ${Math.round(r.durationMs)}ms`,
        durationMs: r.durationMs,
      };
    } catch (e) {
      return { ok: false, message: (e as Error).message, durationMs: performance.now() - started };
    }
  }
}
