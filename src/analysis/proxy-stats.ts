/**
 * proxy: error rate, latency percentiles and request rate of a service's new release, from
 * the Slipway proxy's per-target stats. The proxy's counters are cumulative since a target
 * was added; each metric keeps its own previous snapshot so a value covers exactly the
 * window since that metric's previous measurement.
 */
import type { TargetStats } from "../proxy/contract.js";
import type { AnalysisMetric, Measurement, MetricProvider, ProviderContext } from "./provider.js";
import { errorMessage } from "../errors.js";

export interface ProxyStatsProviderOptions {
  /** Per-target stats, e.g. `() => router.stats()`. */
  stats: () => Promise<TargetStats[]>;
  /**
   * Which targets a metric measures: the candidate/new targets of `metric.service` (or of every
   * service being rolled out). The engine knows routes and slots; the provider does not.
   */
  filter: (target: TargetStats, metric: AnalysisMetric) => boolean;
}

interface Snapshot {
  at: number;
  requests: number;
  errors: number;
}

export function errorCount(t: TargetStats): number {
  return (t.statuses["5xx"] ?? 0) + (t.statuses["error"] ?? 0);
}

export class ProxyStatsProvider implements MetricProvider {
  readonly kind = "proxy" as const;
  /** metric name → target id → counters at the previous measurement. */
  private readonly previous = new Map<string, Map<string, Snapshot>>();

  constructor(private readonly opts: ProxyStatsProviderOptions) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    let all: TargetStats[];
    try {
      all = await this.opts.stats();
    } catch (e) {
      return { error: `proxy stats: ${errorMessage(e)}`, at: ctx.now() };
    }
    const at = ctx.now();
    const targets = all.filter((t) => this.opts.filter(t, metric));
    const prev = this.previous.get(metric.name) ?? new Map<string, Snapshot>();
    const next = new Map<string, Snapshot>();
    let requests = 0;
    let errors = 0;
    let windowMs = 0;
    let worstLatency: number | undefined;
    for (const t of targets) {
      const before = prev.get(t.id);
      const errs = errorCount(t);
      next.set(t.id, { at, requests: t.requests, errors: errs });
      // A counter that went down means the target was re-added: its window starts at zero.
      const reset = before !== undefined && t.requests < before.requests;
      const dReq = before && !reset ? t.requests - before.requests : t.requests;
      const dErr = before && !reset ? Math.max(0, errs - before.errors) : errs;
      requests += dReq;
      errors += dErr;
      if (before) windowMs = Math.max(windowMs, at - before.at);
      if (dReq > 0) {
        const l = latencyOf(t, metric.query);
        if (l !== undefined) worstLatency = Math.max(worstLatency ?? 0, l);
      }
    }
    this.previous.set(metric.name, next);
    if (!targets.length) return { noData: true, samples: 0, at };

    switch (metric.query) {
      case "errorRate":
        return requests > 0
          ? { value: errors / requests, samples: requests, at }
          : { noData: true, samples: 0, at };
      case "requestRate":
        // The first measurement has no previous snapshot, hence no window length.
        return windowMs > 0
          ? { value: requests / (windowMs / 1000), samples: requests, at }
          : { noData: true, at };
      case "latencyP50":
      case "latencyP95":
      case "latencyP99":
        return worstLatency !== undefined
          ? { value: worstLatency, samples: requests, at }
          : { noData: true, samples: requests, at };
      default:
        return { error: `the proxy provider does not know the query "${metric.query}"`, at };
    }
  }
}

/**
 * The target's latency percentile in seconds. The proxy reports percentiles since the target
 * was added (not per window), so a latency metric reacts more slowly than the error rate.
 */
function latencyOf(t: TargetStats, query: string): number | undefined {
  const ms = query === "latencyP50" ? t.latency.p50 : query === "latencyP95" ? t.latency.p95 : t.latency.p99;
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}
