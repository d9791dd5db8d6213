/**
 * A small load generator for the zero-downtime tests and benchmarks: N concurrent loops, each
 * sending one request at a time over a keep-alive `http.Agent` (as a real client pool does),
 * recording every request: when it was sent, how long it took, the status (0 = no response)
 * and which version answered (the body, trimmed, by default).
 *
 * A failure is any request without a 2xx answer: connection errors, resets, timeouts, 5xx.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:4100 */
  url: string;
  /** Concurrent loops (default 8). */
  concurrency?: number;
  /** Total target rate in requests per second; undefined: each loop as fast as it can. */
  rate?: number;
  /** Path per request (default "/"). */
  path?: string | ((seq: number) => string);
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number;
  /** Which version answered, from the body (default: the body, trimmed, first 40 chars). */
  version?: (body: string, status: number) => string | undefined;
}

export interface Sample {
  /** Epoch ms (sub-ms precision) when the request was sent. */
  t: number;
  /** Latency in ms until the whole response was read (or the error). */
  ms: number;
  /** HTTP status, 0 when there was no response. */
  status: number;
  version?: string;
  error?: string;
  path: string;
}

export interface LoadReport {
  requests: number;
  failures: number;
  statuses: Record<string, number>;
  versions: Record<string, number>;
  errors: Record<string, number>;
  durationMs: number;
  rps: number;
  latency: { p50: number; p95: number; p99: number; max: number };
}

const now = () => performance.timeOrigin + performance.now();

export const isFailure = (s: Sample) => s.status < 200 || s.status > 299;

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Summary of samples (all, or those sent in [from, to) epoch ms). */
export function summarize(samples: Sample[], from = -Infinity, to = Infinity): LoadReport {
  const chosen = samples.filter((s) => s.t >= from && s.t < to);
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let failures = 0;
  for (const s of chosen) {
    statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
    if (s.version !== undefined && !isFailure(s)) versions[s.version] = (versions[s.version] ?? 0) + 1;
    if (s.error) errors[s.error] = (errors[s.error] ?? 0) + 1;
    if (isFailure(s)) failures++;
  }
  const lat = chosen.map((s) => s.ms).sort((a, b) => a - b);
  const first = chosen.length ? Math.min(...chosen.map((s) => s.t)) : 0;
  const last = chosen.length ? Math.max(...chosen.map((s) => s.t + s.ms)) : 0;
  const durationMs = last - first;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    requests: chosen.length,
    failures,
    statuses,
    versions,
    errors,
    durationMs: round(durationMs),
    rps: durationMs > 0 ? round((chosen.length / durationMs) * 1000) : 0,
    latency: {
      p50: round(percentile(lat, 50)),
      p95: round(percentile(lat, 95)),
      p99: round(percentile(lat, 99)),
      max: round(lat.length ? lat[lat.length - 1] : 0),
    },
  };
}

export class Load {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly agent: Agent;
  private readonly loops: Promise<void>[] = [];
  private readonly listeners = new Set<(s: Sample) => void>();
  private seq = 0;

  constructor(private readonly opts: LoadOptions) {
    const n = opts.concurrency ?? 8;
    this.agent = new Agent({ keepAlive: true, maxSockets: n, keepAliveMsecs: 1000 });
    const interval = opts.rate ? (n * 1000) / opts.rate : 0;
    const start = now();
    for (let i = 0; i < n; i++) this.loops.push(this.loop(start + (interval * i) / n, interval));
  }

  /** Called for every finished request. */
  onSample(fn: (s: Sample) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves at the first sample (sent at or after `since`) matching `pred`. */
  waitFor(pred: (s: Sample) => boolean, since = -Infinity): Promise<Sample> {
    return new Promise((resolve) => {
      const hit = this.samples.find((s) => s.t >= since && pred(s));
      if (hit) return resolve(hit);
      const off = this.onSample((s) => {
        if (s.t >= since && pred(s)) {
          off();
          resolve(s);
        }
      });
    });
  }

  report(from?: number, to?: number): LoadReport {
    return summarize(this.samples, from, to);
  }

  /** Stops the loops, waits for the requests in flight, closes the sockets. */
  async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.report();
  }

  private async loop(first: number, interval: number): Promise<void> {
    let next = first;
    while (this.running) {
      const wait = next - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!this.running) break;
      // No catch-up bursts after a stall: a late loop sends now and keeps its spacing from here.
      next = Math.max(next + interval, now());
      const s = await this.once();
      this.samples.push(s);
      for (const fn of this.listeners) fn(s);
    }
  }

  private once(): Promise<Sample> {
    const seq = this.seq++;
    const p = this.opts.path;
    const path = typeof p === "function" ? p(seq) : (p ?? "/");
    const url = new URL(path, this.opts.url);
    const t = now();
    return new Promise((resolve) => {
      let done = false;
      const finish = (status: number, body: string, error?: string) => {
        if (done) return;
        done = true;
        let version: string | undefined;
        try {
          version = status > 0 ? (this.opts.version?.(body, status) ?? body.trim().slice(0, 40)) : undefined;
        } catch {
          version = undefined; // a body the extractor cannot read (an error page) has no version
        }
        resolve({ t, ms: now() - t, status, version, error, path });
      };
      const req = request(
        url,
        { agent: this.agent, method: "GET", timeout: this.opts.timeoutMs ?? 15_000 },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => finish(res.statusCode ?? 0, body));
          res.on("error", (e: NodeJS.ErrnoException) => finish(0, "", e.code ?? e.message));
          res.on("aborted", () => finish(0, "", "aborted"));
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
      req.on("error", (e: NodeJS.ErrnoException) => finish(0, "", e.code ?? e.message));
      req.end();
    });
  }
}

export function startLoad(opts: LoadOptions): Load {
  return new Load(opts);
}
