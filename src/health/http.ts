/** HTTP probe: GET a path on the instance; healthy on expectStatus, or any 2xx/3xx. */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { describeUrl } from "../util/redact.js";
import { abortReason, deadline } from "./signal.js";

export interface HttpAnswer {
  status: number;
  durationMs: number;
}

/**
 * One HTTP request without connection reuse (a probe must see a fresh connection) and without
 * following redirects (a 3xx is an answer). The body is read and discarded.
 */
export function httpGet(
  url: string,
  opts: { method?: string; timeoutMs: number; signal?: AbortSignal; insecure?: boolean },
): Promise<HttpAnswer> {
  const started = performance.now();
  const sig = deadline(opts.timeoutMs, opts.signal);
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new Error(`not a URL: ${describeUrl(url)}`));
    }
    const send = u.protocol === "https:" ? httpsRequest : u.protocol === "http:" ? httpRequest : undefined;
    if (!send) return reject(new Error(`unsupported protocol ${u.protocol} (http or https)`));
    if (sig.aborted) return reject(new Error(abortReason(sig, opts.timeoutMs)));
    const req = send(u, {
      method: opts.method ?? "GET",
      agent: false,
      headers: { "user-agent": "slipway-probe", connection: "close" },
      ...(u.protocol === "https:" && opts.insecure ? { rejectUnauthorized: false } : {}),
    });
    const onAbort = () => req.destroy(new Error(abortReason(sig, opts.timeoutMs)));
    sig.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      res.resume();
      const done = () => {
        sig.removeEventListener("abort", onAbort);
        resolve({ status: res.statusCode ?? 0, durationMs: performance.now() - started });
      };
      res.on("end", done);
      res.on("error", done);
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      sig.removeEventListener("abort", onAbort);
      reject(new Error(`${opts.method ?? "GET"} ${describeUrl(url)}: ${e.code ?? e.message}`));
    });
    req.end();
  });
}

export function statusOk(status: number, expect?: number): boolean {
  return expect === undefined ? status >= 200 && status < 400 : status === expect;
}

export class HttpProbe implements Probe {
  readonly kind = "http";
  constructor(
    private readonly path: string,
    private readonly expectStatus?: number,
  ) {}

  url(target: ProbeTarget): string | undefined {
    if (/^https?:\/\//.test(this.path)) return this.path;
    if (target.port === undefined) return undefined;
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    const path = this.path.startsWith("/") ? this.path : `/${this.path}`;
    return `http://${host}:${target.port}${path}`;
  }

  async check(target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const started = performance.now();
    const url = this.url(target);
    if (!url) return { ok: false, message: "http probe: the instance has no port", durationMs: 0 };
    try {
      const r = await httpGet(url, { timeoutMs: opts.timeoutMs, signal: opts.signal });
      const ok = statusOk(r.status, this.expectStatus);
      const want = this.expectStatus === undefined ? "" : ok ? "" : ` (expected ${this.expectStatus})`;
      return {
        ok,
        message: `HTTP ${r.status}${want} from ${describeUrl(url)} in ${Math.round(r.durationMs)}ms`,
        durationMs: r.durationMs,
      };
    } catch (e) {
      return { ok: false, message: (e as Error).message, durationMs: performance.now() - started };
    }
  }
}
