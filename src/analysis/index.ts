/**
 * The metric analysis engine (issue 5): providers, the measurement → metric → run state
 * machine, and the defaults from the guides. The engine builds the providers for a
 * deployment (it knows the proxy, the driver and the instances) and runs an AnalysisRun
 * for each canary step, the bake and the watch.
 */
import type { AnalysisMetric, MetricProviders } from "./provider.js";
import { analysisSchema, type AnalysisSpec } from "../spec/schema-analysis.js";

export type {
  AnalysisMetric,
  Measurement,
  MetricProvider,
  MetricProviders,
  ProviderContext,
} from "./provider.js";
export {
  AnalysisRun,
  MetricState,
  judge,
  realClock,
  worstOutcome,
  type AnalysisResult,
  type AnalysisRunOptions,
  type Clock,
  type MeasurementRecord,
  type MetricSummary,
  type Outcome,
  type Snapshot,
  type Verdict,
} from "./evaluate.js";
export { ProxyStatsProvider, type ProxyStatsProviderOptions } from "./proxy-stats.js";
export { DriverStatsProvider, type DriverStatsProviderOptions } from "./driver-stats.js";
export { PrometheusProvider, type PrometheusProviderOptions } from "./prometheus.js";
export { ScrapeProvider, type ScrapeProviderOptions } from "./scrape.js";
export { JsonProvider, type JsonProviderOptions } from "./json.js";
export type { InstanceUrls } from "./targets.js";
export { formatThreshold, formatValue } from "./format.js";
export { defaultMetrics, type AnalysisSpec } from "../spec/schema-analysis.js";

/** The analysis block to use: the spec's, or the defaults when the spec has none. */
export function effectiveAnalysis(spec: AnalysisSpec | undefined): AnalysisSpec {
  return spec ?? analysisSchema.parse({});
}

/**
 * Split metrics into those a target can measure and those it cannot (e.g. the default CPU
 * metric on a target whose driver has no stats). Explicit metrics the target cannot measure
 * are a spec problem (AnalysisRun throws SpecError); the defaults are simply skipped.
 */
export function measurableMetrics(
  metrics: readonly AnalysisMetric[],
  providers: MetricProviders,
): { metrics: AnalysisMetric[]; skipped: AnalysisMetric[] } {
  const ok = metrics.filter((m) => providers[m.provider]);
  return { metrics: ok, skipped: metrics.filter((m) => !providers[m.provider]) };
}
