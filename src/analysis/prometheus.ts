/**
 * prometheus: an instant query on the Prometheus HTTP API (`GET /api/v1/query`). A scalar or
 * a vector answers; an empty vector (or NaN) is "no data"; anything else that goes wrong —
 * connection refused, HTTP error, a query error — is an error, never a success.
 */
import type { AnalysisMetric, Measurement, MetricProvider, ProviderContext } from "./provider.js";
import { errorMessage } from "../errors.js";
import { worst } from "./driver-stats.js";
import { httpGet, redactUrl, snippet } from "./http.js";

export interface PrometheusProviderOptions {
  /** Base URL used when a metric has no `url`. */
  url?: string;
}

/** The slice of the Prometheus API response we read. */
interface QueryResponse {
  status?: string;
  error?: string;
  errorType?: string;
  data?: {
    resultType?: string;
    result?: unknown;
  };
}

export class PrometheusProvider implements MetricProvider {
  readonly kind = "prometheus" as const;

  constructor(private readonly opts: PrometheusProviderOptions = {}) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    const base = metric.url || this.opts.url;
    if (!base) return { error: `metric "${metric.name}" has no Prometheus url`, at: ctx.now() };
    const url = `${base.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(metric.query)}`;
    let body: string;
    try {
      body = (await httpGet(url, ctx.signal, "application/json", [400, 422, 503])).body;
    } catch (e) {
      return { error: errorMessage(e), at: ctx.now() };
    }
    const at = ctx.now();
    let doc: QueryResponse;
    try {
      doc = JSON.parse(body) as QueryResponse;
    } catch {
      return { error: `${redactUrl(base)}: not a Prometheus API answer: ${snippet(body)}`, at };
    }
    if (doc.status !== "success")
      return { error: `query failed (${doc.errorType ?? "error"}): ${doc.error ?? snippet(body)}`, at };
    return parseResult(metric, doc.data?.resultType, doc.data?.result, at);
  }
}

export function parseResult(
  metric: Pick<AnalysisMetric, "max" | "min">,
  type: string | undefined,
  result: unknown,
  at: number,
): Measurement {
  const num = (pair: unknown): number | undefined => {
    if (!Array.isArray(pair) || pair.length < 2) return undefined;
    const v = Number(pair[1]);
    return Number.isNaN(v) ? undefined : v;
  };
  if (type === "scalar") {
    const v = num(result);
    return v === undefined ? { noData: true, at } : { value: v, at };
  }
  if (type === "vector") {
    if (!Array.isArray(result)) return { error: "malformed vector result", at };
    const values = result
      .map((s: unknown) => num((s as { value?: unknown } | null)?.value))
      .filter((v): v is number => v !== undefined);
    if (!values.length) return { noData: true, at };
    // Several series: the one closest to failing decides (write sum()/max() to choose yourself).
    return { value: worst(metric, values), at };
  }
  return {
    error: `the query returned a ${type ?? "missing"} result; write it so it returns a scalar or an instant vector`,
    at,
  };
}
