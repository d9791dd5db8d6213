/**
 * One metric's state within an analysis run: verdicts of single measurements (judge()), the
 * failure and error limits, and the phase a metric ends in (the rules are in evaluate.ts).
 */
import type { AnalysisMetric, Measurement } from "./provider.js";
import { formatThreshold, formatValue } from "./format.js";

export type Verdict = "pass" | "fail" | "error" | "inconclusive";
export type Outcome = "successful" | "failed" | "error" | "inconclusive" | "running";

const RANK: Record<Outcome, number> = { successful: 0, running: 1, inconclusive: 2, error: 3, failed: 4 };

/** The worst of the outcomes (successful for none). */
export function worstOutcome(outcomes: Iterable<Outcome>): Outcome {
  let w: Outcome = "successful";
  for (const o of outcomes) if (RANK[o] > RANK[w]) w = o;
  return w;
}

/** The verdict on one measurement of a metric, with the reason in words. */
export function judge(metric: AnalysisMetric, m: Measurement): { verdict: Verdict; reason: string } {
  if (m.error !== undefined) return { verdict: "error", reason: `could not measure: ${m.error}` };
  if (m.noData || m.value === undefined || Number.isNaN(m.value)) {
    const verdict: Verdict = metric.noData;
    return { verdict, reason: `no data (noData: ${metric.noData})` };
  }
  const v = formatValue(metric, m.value);
  if (m.samples !== undefined && m.samples < metric.minSamples)
    return {
      verdict: "inconclusive",
      reason: `${v} over ${m.samples} samples, fewer than minSamples ${metric.minSamples}: not counted`,
    };
  if (metric.max !== undefined && m.value > metric.max)
    return { verdict: "fail", reason: `${v} > max ${formatValue(metric, metric.max)}` };
  if (metric.min !== undefined && m.value < metric.min)
    return { verdict: "fail", reason: `${v} < min ${formatValue(metric, metric.min)}` };
  return { verdict: "pass", reason: `${v} within ${formatThreshold(metric)}` };
}

/** One measurement as stored with the revision: the evidence behind a decision. */
export interface MeasurementRecord {
  metric: string;
  provider: AnalysisMetric["provider"];
  query: string;
  severity: AnalysisMetric["severity"];
  value?: number;
  samples?: number;
  noData?: boolean;
  error?: string;
  max?: number;
  min?: number;
  verdict: Verdict;
  reason: string;
  /** The metric's phase after this measurement. */
  phase: Outcome;
  /** e.g. "failed 2 of failureLimit 2" */
  count: string;
  /** ISO time of the measurement. */
  at: string;
}

export interface MetricSummary {
  name: string;
  provider: AnalysisMetric["provider"];
  query: string;
  severity: AnalysisMetric["severity"];
  max?: number;
  min?: number;
  phase: Outcome;
  measured: number;
  passed: number;
  failed: number;
  errors: number;
  consecutiveErrors: number;
  inconclusive: number;
  failureLimit: number;
  consecutiveErrorLimit: number;
  /** Why the metric is in its phase, in words. */
  reason: string;
}

export interface AnalysisResult {
  outcome: Outcome;
  /** The metric that decided a failed/error/inconclusive outcome. */
  decidedBy?: { metric: string; phase: Outcome; reason: string };
  /** One line for humans, e.g. `failed: error-rate 5.2 % > max 1 % (failed 2 of failureLimit 2)`. */
  summary: string;
  metrics: MetricSummary[];
  /** Every measurement, in the order taken. */
  measurements: MeasurementRecord[];
  /** Warning-severity metrics that failed or errored (alert, do not roll back). */
  warnings: string[];
  startedAt: string;
  finishedAt: string;
  /** The run was stopped by its signal before the end. */
  interrupted?: boolean;
}

export class MetricState {
  measured = 0;
  passed = 0;
  failed = 0;
  errors = 0;
  consecutiveErrors = 0;
  inconclusive = 0;
  phase: Outcome = "running";
  reason = "not measured yet";

  constructor(readonly metric: AnalysisMetric) {}

  get decided(): boolean {
    return this.phase === "failed" || this.phase === "error";
  }

  /** Count one verdict; returns the phase after it. A decided metric stays decided. */
  record(verdict: Verdict, reason: string): Outcome {
    this.measured++;
    if (verdict === "error") {
      this.errors++;
      this.consecutiveErrors++;
    } else {
      this.consecutiveErrors = 0;
      if (verdict === "pass") this.passed++;
      else if (verdict === "fail") this.failed++;
      else this.inconclusive++;
    }
    if (this.decided) return this.phase;
    if (this.failed >= this.metric.failureLimit) {
      this.phase = "failed";
      this.reason = `${reason} (failed ${this.failed} of failureLimit ${this.metric.failureLimit})`;
    } else if (this.consecutiveErrors >= this.metric.consecutiveErrorLimit) {
      this.phase = "error";
      this.reason = `${reason} (${this.consecutiveErrors} errors in a row, consecutiveErrorLimit ${this.metric.consecutiveErrorLimit})`;
    } else {
      this.reason = reason;
    }
    return this.phase;
  }

  count(): string {
    const m = this.metric;
    if (this.consecutiveErrors > 0)
      return `error ${this.consecutiveErrors} of consecutiveErrorLimit ${m.consecutiveErrorLimit}`;
    return `failed ${this.failed} of failureLimit ${m.failureLimit}`;
  }

  /** The phase when the run ends without this metric having decided. */
  finish(): Outcome {
    if (this.decided) return this.phase;
    if (this.passed > 0) {
      this.phase = "successful";
      this.reason = `${this.passed} of ${this.measured} measurements passed`;
    } else if (this.errors > 0) {
      this.phase = "error";
      this.reason = `no measurement succeeded; ${this.errors} could not be taken (last: ${this.reason})`;
    } else {
      this.phase = "inconclusive";
      this.reason = this.measured ? `no measurement was conclusive (last: ${this.reason})` : "never measured";
    }
    return this.phase;
  }

  summary(): MetricSummary {
    const m = this.metric;
    return {
      name: m.name,
      provider: m.provider,
      query: m.query,
      severity: m.severity,
      ...(m.max !== undefined ? { max: m.max } : {}),
      ...(m.min !== undefined ? { min: m.min } : {}),
      phase: this.phase,
      measured: this.measured,
      passed: this.passed,
      failed: this.failed,
      errors: this.errors,
      consecutiveErrors: this.consecutiveErrors,
      inconclusive: this.inconclusive,
      failureLimit: m.failureLimit,
      consecutiveErrorLimit: m.consecutiveErrorLimit,
      reason: this.reason,
    };
  }
}
