/**
 * The metric providers of an analysis run over a release's instances: proxy stats (with
 * windowed latency percentiles), the driver's stats, Prometheus, and scrape/json on the
 * instances' addresses. Used by the deploy's gates (analysis-gate.ts) and the post-deploy watch.
 */
import {
  DriverStatsProvider,
  JsonProvider,
  PrometheusProvider,
  ProxyStatsProvider,
  ScrapeProvider,
  type AnalysisMetric,
  type Measurement,
  type MetricProvider,
  type MetricProviders,
  type ProviderContext,
} from "../analysis/index.js";
import type { Instance, InstanceStats } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import type { TargetStats } from "../proxy/contract.js";
import type { EngineDeps } from "./context.js";

/** The new release's instances by service: what a run measures. */
export type ReleaseInstances = () => Promise<Map<string, Instance[]>>;

/**
 * The providers of a run over `release`: proxy stats filtered to the release's instance ids,
 * the driver's stats of those instances, Prometheus, and scrape/json on the instances' addresses.
 */
export function releaseProviders(
  deps: EngineDeps,
  release: ReleaseInstances,
  /** How scrape fetches an endpoint (the standing rules share one fetch per round). */
  scrapeGet?: (url: string, signal: AbortSignal) => Promise<string>,
): MetricProviders {
  const of = async (metric: AnalysisMetric): Promise<Instance[]> => {
    const byService = await release();
    if (metric.service) return byService.get(metric.service) ?? [];
    return [...byService.values()].flat();
  };
  let ids = new Map<string, Set<string>>();
  const stats = async () => {
    // The filter is synchronous: resolve every metric's instance ids before it runs.
    const byService = await release();
    const all = new Set([...byService.values()].flat().map((i) => i.id));
    ids = new Map([["", all], ...[...byService].map(([s, l]) => [s, new Set(l.map((i) => i.id))] as const)]);
    return (await deps.router()).stats();
  };
  const filter = (t: TargetStats, m: AnalysisMetric) => ids.get(m.service ?? "")?.has(t.id) ?? false;
  const providers: MetricProviders = {
    proxy: new WindowLatency(new ProxyStatsProvider({ stats, filter }), stats, filter),
    prometheus: new PrometheusProvider(),
    scrape: new ScrapeProvider({
      instanceUrls: async (s) => urlsOf((await release()).get(s) ?? []),
      ...(scrapeGet ? { get: scrapeGet } : {}),
    }),
    json: new JsonProvider({ instanceUrls: async (s) => urlsOf((await release()).get(s) ?? []) }),
  };
  if (deps.driver.capabilities.stats)
    providers.driver = new DriverStatsProvider({
      stats: async (m) => {
        // Restarts come from the live state (Kubernetes: the pods' container statuses), which
        // every driver has, even without a metrics API.
        if (m.query === "restarts")
          return Promise.all(
            (await of(m)).map(async (i) => {
              if (!deps.driver.live) return { cpu: 0, memory: 0, restarts: i.restarts };
              const now = (await deps.driver.live(i)) ?? i;
              return { cpu: 0, memory: 0, restarts: Math.max(0, now.restarts - i.restarts) };
            }),
          );
        const stats = await Promise.all((await of(m)).map((i) => deps.driver.stats(i)));
        return stats.filter((s): s is InstanceStats => s !== undefined);
      },
    });
  return providers;
}

const QUANTILE: Record<string, number> = { latencyP50: 0.5, latencyP95: 0.95, latencyP99: 0.99 };

/**
 * Proxy latency percentiles over the window since the metric's previous measurement, from the
 * proxy's cumulative histogram buckets (TargetStats.latencyBuckets), so a latency regression
 * shows at the next measurement instead of being diluted by everything since the target was
 * added. The worst target decides, as in the library's provider; every other query (and a
 * proxy without buckets) goes to the library's provider.
 */
class WindowLatency implements MetricProvider {
  readonly kind = "proxy" as const;
  /** metric name → target id → counters at the previous measurement. */
  private readonly previous = new Map<
    string,
    Map<string, { requests: number; buckets: Map<number, number> }>
  >();

  constructor(
    private readonly inner: MetricProvider,
    private readonly stats: () => Promise<TargetStats[]>,
    private readonly filter: (t: TargetStats, m: AnalysisMetric) => boolean,
  ) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    const q = QUANTILE[metric.query];
    if (q === undefined) return this.inner.measure(metric, ctx);
    let all: TargetStats[];
    try {
      all = await this.stats();
    } catch (e) {
      return { error: `proxy stats: ${errorMessage(e)}`, at: ctx.now() };
    }
    const at = ctx.now();
    const targets = all.filter((t) => this.filter(t, metric));
    if (targets.some((t) => !t.latencyBuckets)) return this.inner.measure(metric, ctx);
    const prev = this.previous.get(metric.name);
    const next = new Map<string, { requests: number; buckets: Map<number, number> }>();
    let samples = 0;
    let worst: number | undefined;
    for (const t of targets) {
      const now = new Map(t.latencyBuckets);
      next.set(t.id, { requests: t.requests, buckets: now });
      const before = prev?.get(t.id);
      // A counter that went down means the target was re-added: its window starts at zero.
      const base = before && t.requests >= before.requests ? before.buckets : undefined;
      const window = new Map<number, number>();
      for (const [i, c] of now) {
        const d = c - (base?.get(i) ?? 0);
        if (d > 0) window.set(i, d);
      }
      const n = [...window.values()].reduce((a, b) => a + b, 0);
      samples += n;
      if (n > 0) worst = Math.max(worst ?? 0, bucketQuantileMs(window, n, q) / 1000);
    }
    this.previous.set(metric.name, next);
    return worst === undefined ? { noData: true, samples, at } : { value: worst, samples, at };
  }
}

/** The contract's buckets: i = [0.01 · 1.04^i, 0.01 · 1.04^(i+1)) ms; the geometric middle stands for it. */
function bucketQuantileMs(window: Map<number, number>, total: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const i of [...window.keys()].sort((a, b) => a - b)) {
    seen += window.get(i) as number;
    if (seen >= rank) return 0.01 * Math.pow(1.04, i + 0.5);
  }
  return 0;
}

function urlsOf(instances: Instance[]): string[] {
  return instances
    .filter((i) => i.port !== undefined)
    .map((i) => `http://${i.host ?? "127.0.0.1"}:${i.port}`);
}
