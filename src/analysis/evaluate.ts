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
import {
  judge,
  MetricState,
  worstOutcome,
  type AnalysisResult,
  type MeasurementRecord,
  type Outcome,
} from "./metric-state.js";

export * from "./metric-state.js";

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
