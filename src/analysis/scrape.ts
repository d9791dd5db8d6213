/**
 * scrape: read a metric from a Prometheus text-format endpoint (a service's own /metrics),
 * without a Prometheus server. The query selects series by name and label matchers and sums
 * them; `rate(…)` and `increase(…)` turn a counter into its change since the previous
 * measurement of the same metric. With several instances, the worst instance decides.
 */
import type { AnalysisMetric, Measurement, MetricProvider, ProviderContext } from "./provider.js";
import { errorMessage } from "../errors.js";
import { worst } from "./driver-stats.js";
import { httpGet } from "./http.js";
import { matches, parseExposition, parseSelector, type Selector } from "./prom-text.js";
import { urlsOf, type InstanceUrls } from "./targets.js";

export interface ScrapeProviderOptions {
  /** Base URLs of a service's new instances, for metrics whose url is a path (/metrics). */
  instanceUrls?: InstanceUrls;
  /** Fetches an endpoint's text (default httpGet); the standing rules share one fetch per round. */
  get?: (url: string, signal: AbortSignal) => Promise<string>;
}

export interface ScrapeQuery {
  fn?: "rate" | "increase";
  selector: Selector;
}

export function parseScrapeQuery(query: string): ScrapeQuery {
  const m = /^\s*(rate|increase)\s*\((.*)\)\s*$/s.exec(query);
  return m
    ? { fn: m[1] as "rate" | "increase", selector: parseSelector(m[2]) }
    : { selector: parseSelector(query) };
}

export class ScrapeProvider implements MetricProvider {
  readonly kind = "scrape" as const;
  /** metric name → url → the counter sum at the previous measurement. */
  private readonly previous = new Map<string, Map<string, { at: number; value: number }>>();

  constructor(private readonly opts: ScrapeProviderOptions = {}) {}

  async measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement> {
    let q: ScrapeQuery;
    let urls: string[];
    try {
      q = parseScrapeQuery(metric.query);
      urls = await urlsOf(metric, this.opts.instanceUrls);
    } catch (e) {
      return { error: errorMessage(e), at: ctx.now() };
    }
    if (!urls.length) return { noData: true, at: ctx.now() };
    let bodies: string[];
    try {
      bodies = await Promise.all(
        urls.map(async (u) =>
          this.opts.get
            ? this.opts.get(u, ctx.signal)
            : (await httpGet(u, ctx.signal, "text/plain;version=0.0.4, */*")).body,
        ),
      );
    } catch (e) {
      return { error: errorMessage(e), at: ctx.now() };
    }
    const at = ctx.now();
    const prev = this.previous.get(metric.name) ?? new Map<string, { at: number; value: number }>();
    const values: number[] = [];
    urls.forEach((u, i) => {
      const series = parsed(bodies[i]).filter((s) => matches(q.selector, s));
      if (!series.length) return;
      const sum = series.reduce((a, s) => a + s.value, 0);
      const before = prev.get(u);
      prev.set(u, { at, value: sum });
      if (!q.fn) return values.push(sum);
      if (!before || at <= before.at) return;
      const delta = sum >= before.value ? sum - before.value : sum; // a counter reset starts again at 0
      values.push(q.fn === "increase" ? delta : delta / ((at - before.at) / 1000));
    });
    this.previous.set(metric.name, prev);
    const finite = values.filter((v) => !Number.isNaN(v));
    return finite.length ? { value: worst(metric, finite), at } : { noData: true, at };
  }
}

/** The last document parsed: rules reading one shared endpoint parse it once. */
let last: { body: string; series: ReturnType<typeof parseExposition> } | undefined;
function parsed(body: string): ReturnType<typeof parseExposition> {
  if (last?.body !== body) last = { body, series: parseExposition(body) };
  return last.series;
}
