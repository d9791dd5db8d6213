/**
 * The MetricProvider contract: one measurement of one metric. A provider never throws for a
 * measurement that could not be taken; it returns `{ error }` so the evaluator can count
 * consecutive errors (a Prometheus that is down is an `error`, never a success).
 */
import type { AnalysisMetric, MetricProviderKind } from "../spec/schema-analysis.js";

export type { AnalysisMetric, MetricProviderKind };

export interface Measurement {
  /** The measured value in base units (ratio, seconds, bytes, number). */
  value?: number;
  /** How many samples the value stands on (proxy: requests in the window), for minSamples. */
  samples?: number;
  /** The source answered but had nothing for this query (empty vector, missing path, no instances). */
  noData?: boolean;
  /** The measurement could not be taken (connection refused, HTTP 500, bad document). No secrets. */
  error?: string;
  /** Epoch milliseconds when the measurement was taken. */
  at: number;
}

export interface ProviderContext {
  /** Aborted when the run stops or the measurement times out. */
  signal: AbortSignal;
  /** Epoch milliseconds (the run's clock). */
  now(): number;
}

export interface MetricProvider {
  readonly kind: MetricProviderKind;
  measure(metric: AnalysisMetric, ctx: ProviderContext): Promise<Measurement>;
}

export type MetricProviders = Partial<Record<MetricProviderKind, MetricProvider>>;
