/**
 * Measurement → metric → run: the analysis state machine (Argo Rollouts' semantics, made
 * explicit).
 *
 * - A measurement's verdict is pass | fail | error | inconclusive (judge()).
 * - A metric FAILS at exactly its Nth failed measurement, N = failureLimit (default 1),
 *   counted over the whole run (not only consecutive ones).
 * - A metric ends in ERROR after consecutiveErrorLimit (default 4) errors in a row; any
 *   answer (pass, fail, no data) resets the count.
 * - An inconclusive measurement (fewer samples than minSamples, or no data under
 *   `noData: inconclusive`) is recorded but not counted.
 * - When the run ends without a decision, a metric is successful if at least one measurement
 *   passed; otherwise error if any measurement errored (a Prometheus down for the whole run is
 *   never a success), else inconclusive.
 * - The run outcome is the worst phase of its critical metrics:
 *   failed > error > inconclusive > running > successful. Warning metrics are measured,
 *   recorded and reported but do not decide.
 */
import type { Logger } from "../logger.js";
import type { AnalysisMetric, Measurement, MetricProviders } from "./provider.js";
import { SpecError, errorMessage } from "../errors.js";
import { silentLogger } from "../logger.js";
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

/** Time, injectable so tests of the state machine run without sleeping. */
export interface Clock {
  now(): number;
  /** Wait ms; resolves early (does not throw) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    }),
};

export interface AnalysisRunOptions {
  metrics: readonly AnalysisMetric[];
  providers: MetricProviders;
  /** Default time between measurements (analysis.interval), for metrics without their own. */
  intervalMs: number;
  /** Called after every measurement (store it, emit an event, alert on a warning failure). */
  onMeasurement?: (record: MeasurementRecord) => void;
  /** Time one measurement may take (default: the metric's interval, at least 2 s, at most 30 s). */
  measurementTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface Snapshot {
  /** The run's outcome so far: failed/error once decided, else running (successful without critical metrics). */
  outcome: Outcome;
  decidedBy?: AnalysisResult["decidedBy"];
  /** The measurements of this round. */
  measurements: MeasurementRecord[];
}

export class AnalysisRun {
  private readonly states: MetricState[];
  private readonly records: MeasurementRecord[] = [];
  private readonly clock: Clock;
  private readonly log: Logger;
  private startedAt?: number;

  constructor(private readonly opts: AnalysisRunOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? silentLogger;
    const missing = opts.metrics.map((m, i) => ({ m, i })).filter(({ m }) => !opts.providers[m.provider]);
    if (missing.length)
      throw new SpecError(
        missing.map(({ m, i }) => ({
          path: `analysis.metrics.${i}.provider`,
          message: `metric "${m.name}": the ${m.provider} provider is not available for this target`,
        })),
      );
    if (!(opts.intervalMs > 0)) throw new RangeError("intervalMs must be greater than 0");
    this.states = opts.metrics.map((m) => new MetricState(m));
  }

  private intervalOf(m: AnalysisMetric): number {
    return m.interval ?? this.opts.intervalMs;
  }

  /** The outcome so far (critical metrics only; undecided metrics are running). */
  get outcome(): Outcome {
    const critical = this.states.filter((s) => s.metric.severity === "critical");
    return critical.length ? worstOutcome(critical.map((s) => s.phase)) : "successful";
  }

  private decider(): AnalysisResult["decidedBy"] {
    const outcome = this.outcome;
    if (outcome === "successful" || outcome === "running") return undefined;
    const s = this.states.find((x) => x.metric.severity === "critical" && x.phase === outcome);
    return s ? { metric: s.metric.name, phase: s.phase, reason: s.reason } : undefined;
  }

  private async measureOne(state: MetricState, signal?: AbortSignal): Promise<MeasurementRecord> {
    const metric = state.metric;
    const provider = this.opts.providers[metric.provider]!;
    const timeoutMs =
      this.opts.measurementTimeoutMs ?? Math.min(Math.max(this.intervalOf(metric), 2000), 30_000);
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let m: Measurement;
    try {
      m = await Promise.race([
        provider.measure(metric, { signal: ctl.signal, now: () => this.clock.now() }),
        new Promise<Measurement>((resolve) => {
          timer = setTimeout(() => {
            ctl.abort();
            resolve({ error: `timed out after ${timeoutMs} ms`, at: this.clock.now() });
          }, timeoutMs);
        }),
      ]);
    } catch (e) {
      m = { error: errorMessage(e), at: this.clock.now() };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    const { verdict, reason } = judge(metric, m);
    const phase = state.record(verdict, reason);
    const record: MeasurementRecord = {
      metric: metric.name,
      provider: metric.provider,
      query: metric.query,
      severity: metric.severity,
      ...(m.value !== undefined ? { value: m.value } : {}),
      ...(m.samples !== undefined ? { samples: m.samples } : {}),
      ...(m.noData ? { noData: true } : {}),
      ...(m.error !== undefined ? { error: m.error } : {}),
      ...(metric.max !== undefined ? { max: metric.max } : {}),
      ...(metric.min !== undefined ? { min: metric.min } : {}),
      verdict,
      reason,
      phase,
      count: state.count(),
      at: new Date(m.at).toISOString(),
    };
    this.records.push(record);
    const level = verdict === "error" ? "warn" : "debug";
    this.log[level](`analysis ${metric.name}: ${verdict}: ${reason}`, {
      metric: metric.name,
      verdict,
      phase,
    });
    try {
      this.opts.onMeasurement?.(record);
    } catch (e) {
      this.log.warn(`analysis: onMeasurement failed: ${errorMessage(e)}`);
    }
    return record;
  }

  /** Measure every metric once, now (the watch loop). State accumulates across calls. */
  async measureOnce(signal?: AbortSignal): Promise<Snapshot> {
    this.startedAt ??= this.clock.now();
    const measurements = await Promise.all(this.states.map((s) => this.measureOne(s, signal)));
    return { outcome: this.outcome, decidedBy: this.decider(), measurements };
  }

  /**
   * Measure every metric every interval (its own, or the run's) for durationMs, the first
   * measurement one interval after the start and the last at the end (durationMs 0: once,
   * now). Stops early at the first failed/error outcome.
   */
  async run(opts: { durationMs: number; signal?: AbortSignal }): Promise<AnalysisResult> {
    const { signal } = opts;
    for (const s of this.states) if (!s.decided) s.phase = "running";
    const t0 = this.clock.now();
    this.startedAt ??= t0;
    const durationMs = Math.max(0, opts.durationMs);
    const end = t0 + durationMs;
    const due = new Map<MetricState, number>(
      this.states.map((s) => [
        s,
        durationMs === 0 ? t0 : t0 + Math.min(this.intervalOf(s.metric), durationMs),
      ]),
    );
    let interrupted = false;
    while (due.size && !this.stopped()) {
      const next = Math.min(...due.values());
      const wait = next - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, signal);
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const now = this.clock.now();
      const batch = [...due].filter(([, t]) => t <= now).map(([s]) => s);
      await Promise.all(batch.map((s) => this.measureOne(s, signal)));
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const after = this.clock.now();
      for (const s of batch) {
        if (due.get(s)! >= end) {
          due.delete(s);
          continue;
        }
        // The next slot on the fixed grid after now: a slow measurement skips slots, never bunches them.
        const iv = this.intervalOf(s.metric);
        const k = Math.floor((after - t0) / iv) + 1;
        due.set(s, Math.min(t0 + k * iv, end));
      }
    }
    return this.result({ finish: !interrupted, interrupted });
  }

  private stopped(): boolean {
    const o = this.outcome;
    return o === "failed" || o === "error";
  }

  /**
   * The evidence so far. `finish: true` (what run() does at its end) turns undecided metrics
   * into successful / error / inconclusive; without it they stay running.
   */
  result(opts: { finish?: boolean; interrupted?: boolean } = {}): AnalysisResult {
    const interrupted = opts.interrupted ?? false;
    if (opts.finish) for (const s of this.states) s.finish();
    const outcome = this.outcome;
    const decidedBy = this.decider();
    const warnings = this.states
      .filter((s) => s.metric.severity === "warning" && (s.phase === "failed" || s.phase === "error"))
      .map((s) => `${s.metric.name} ${s.phase}: ${s.reason}`);
    let summary: string = outcome;
    if (decidedBy) summary = `${outcome}: ${decidedBy.metric} ${decidedBy.reason}`;
    else if (outcome === "successful")
      summary = `successful: ${this.states.length} metrics, ${this.records.length} measurements`;
    if (interrupted) summary += " (interrupted)";
    return {
      outcome,
      ...(decidedBy ? { decidedBy } : {}),
      summary,
      metrics: this.states.map((s) => s.summary()),
      measurements: [...this.records],
      warnings,
      startedAt: new Date(this.startedAt ?? this.clock.now()).toISOString(),
      finishedAt: new Date(this.clock.now()).toISOString(),
      ...(interrupted ? { interrupted: true } : {}),
    };
  }
}
