/**
 * Metric analysis in a deploy (issue 5): the gate of each canary step, the bake after the
 * rollouts (the previous slot still running, so a failure is undone by a traffic switch), and
 * the metric selection the post-deploy watch (analysis-watch.ts) shares; the providers are in
 * analysis-providers.ts. Every AnalysisResult is kept in the revision's facts
 * (`facts.analysis`) — the evidence `slipway history ENV REV` shows.
 */
import {
  AnalysisRun,
  defaultMetrics,
  formatThreshold,
  type AnalysisMetric,
  type AnalysisResult,
  type AnalysisSpec,
  type MeasurementRecord,
  type MetricProviders,
} from "../analysis/index.js";
import type { Instance } from "../drivers/driver.js";
import { Interrupted, OperationFailed } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { formatDuration } from "../util/units.js";
import { sleep } from "../util/sleep.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import type { StepGate } from "./strategies/canary.js";
import type { RolloutState } from "./strategies/common.js";
import { releaseProviders, type ReleaseInstances } from "./analysis-providers.js";

// The post-deploy watch imports these from here.
export { releaseProviders, type ReleaseInstances };

export type AnalysisPhase = "canary" | "bake" | "watch";

/** One analysis run as stored in `revision.facts.analysis` (a list, in the order run). */
export interface AnalysisEvidence {
  phase: AnalysisPhase;
  /** canary: the service whose step was analysed. */
  service?: string;
  /** canary: the step's traffic weight (percent). */
  weight?: number;
  /** How long the run was meant to last (bake, canary pause, watch window). */
  durationMs?: number;
  /** Default metrics the target cannot measure (e.g. CPU without driver stats). */
  skipped?: string[];
  /** Measurements left out of `result.measurements` to keep the record small (long watches). */
  dropped?: number;
  result: AnalysisResult;
}

/** The analysis block when it gates anything (present, with metrics). */
export function activeAnalysis(spec: Pick<ResolvedSpec, "analysis">): AnalysisSpec | undefined {
  const a = spec.analysis;
  return a && a.metrics.length ? a : undefined;
}

/** The description of the plan's "bake" step, or undefined when the spec does not bake. */
export function bakeStep(spec: Pick<ResolvedSpec, "analysis">): string | undefined {
  const a = activeAnalysis(spec);
  if (!a || a.bake <= 0) return undefined;
  const names = a.metrics.map((m) => m.name);
  const list = names.length > 4 ? `${names.slice(0, 4).join(", ")} +${names.length - 4}` : names.join(", ");
  return `bake ${formatDuration(a.bake)}: analyse ${list} (previous release still running)`;
}

const isDefault = (m: AnalysisMetric) => {
  const d = defaultMetrics.find((x) => x.name === m.name);
  return !!d && JSON.stringify(d) === JSON.stringify(m);
};

/**
 * The metrics a run over `services` evaluates: those naming another service are left out;
 * default metrics a target cannot measure are skipped (a metric written by hand that cannot
 * be measured stays in, and AnalysisRun reports it as a spec error).
 */
export function metricsFor(
  analysis: AnalysisSpec,
  providers: MetricProviders,
  services: readonly string[],
): { metrics: AnalysisMetric[]; skipped: string[] } {
  const inScope = analysis.metrics.filter((m) => !m.service || services.includes(m.service));
  const skipped = inScope.filter((m) => !providers[m.provider] && isDefault(m));
  return { metrics: inScope.filter((m) => !skipped.includes(m)), skipped: skipped.map((m) => m.name) };
}

/** One event per measurement round (the CLI prints it as `bake: error-rate 0.2 % ✔, cpu 3 % ✔`). */
function roundReporter(label: string, emit: EventSink): { add(r: MeasurementRecord): void; flush(): void } {
  let pending: MeasurementRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending.length) return;
    const bad = pending.some((r) => r.verdict === "fail" || r.verdict === "error");
    emit({ type: "measurements", level: bad ? "warn" : "info", label, measurements: pending });
    pending = [];
  };
  return {
    add(r) {
      // Metrics due together are measured together: one line for the round (a metric measured
      // again starts the next line).
      if (pending.some((x) => x.metric === r.metric)) flush();
      pending.push(r);
      timer ??= setTimeout(flush, 500);
    },
    flush,
  };
}

export interface DeployAnalysisOptions {
  revision: number;
  emit: EventSink;
  /** The revision's facts: the evidence is appended to `facts.analysis`. */
  facts: Record<string, unknown>;
}

/** The analysis of one deploy: canary step gates and the bake, sharing one set of providers. */
export class DeployAnalysis {
  /**
   * Providers by scope (one per canary service, one for the bake): canaries of one layer run
   * in parallel, and a proxy provider's windows must not mix their targets. A scope keeps its
   * providers across steps, so each window starts where the previous one ended.
   */
  private readonly scopes = new Map<
    string,
    { release: Map<string, Instance[]>; providers: MetricProviders }
  >();
  readonly evidence: AnalysisEvidence[];

  private constructor(
    private readonly deps: EngineDeps,
    private readonly spec: ResolvedSpec,
    private readonly analysis: AnalysisSpec,
    private readonly opts: DeployAnalysisOptions,
  ) {
    this.evidence = [];
    opts.facts.analysis = this.evidence;
  }

  /** The analysis of a deploy, or undefined when the spec has none (rollbacks are not analysed). */
  static for(
    deps: EngineDeps,
    spec: ResolvedSpec,
    opts: DeployAnalysisOptions & { rollback?: boolean },
  ): DeployAnalysis | undefined {
    const a = activeAnalysis(spec);
    return a && !opts.rollback ? new DeployAnalysis(deps, spec, a, opts) : undefined;
  }

  /** The StepGate for canary rollouts: the analysis runs for the step's pause. */
  get canaryGate(): StepGate {
    return async (req, state, weight, pauseMs) => {
      const result = await this.run(
        { phase: "canary", service: req.svc.name, weight, durationMs: pauseMs },
        this.scope(`canary ${req.svc.name}`, new Map([[req.svc.name, state.fresh]])),
        `${req.svc.name} at ${weight}%`,
        req.signal,
      );
      if (result.interrupted) throw new Interrupted("interrupted");
      if (result.outcome === "failed" || result.outcome === "error")
        throw new OperationFailed(`analysis ${result.summary}`);
      if (result.outcome === "inconclusive")
        this.opts.emit({
          type: "log",
          level: "warn",
          service: req.svc.name,
          message: `${req.svc.name} at ${weight}%: analysis inconclusive, going on: ${result.summary}`,
        });
    };
  }

  /** The bake: watch every rolled-out service's new instances for `analysis.bake`. */
  async bake(states: RolloutState[], signal?: AbortSignal): Promise<string> {
    const durationMs = this.analysis.bake;
    const result = await this.run(
      { phase: "bake", durationMs },
      this.scope("bake", new Map(states.map((st) => [st.service, st.fresh]))),
      "bake",
      signal,
    );
    if (result.interrupted) throw new Interrupted("interrupted");
    if (result.outcome === "failed" || result.outcome === "error")
      throw new OperationFailed(`bake: analysis ${result.summary}`);
    if (result.outcome === "inconclusive") {
      this.opts.emit({
        type: "log",
        level: "warn",
        message:
          `bake inconclusive, proceeding: ${result.decidedBy?.metric ?? ""} ${result.decidedBy?.reason ?? ""}`.trim(),
      });
      return `inconclusive after ${formatDuration(durationMs)}: ${result.summary}`;
    }
    return `${result.summary} in ${formatDuration(durationMs)}`;
  }

  private scope(key: string, release: Map<string, Instance[]>) {
    let s = this.scopes.get(key);
    if (!s) {
      const created = { release, providers: {} as MetricProviders };
      created.providers = releaseProviders(this.deps, async () => created.release);
      this.scopes.set(key, (s = created));
    }
    s.release = release;
    return s;
  }

  private async run(
    meta: Omit<AnalysisEvidence, "result" | "skipped">,
    scope: { release: Map<string, Instance[]>; providers: MetricProviders },
    label: string,
    signal: AbortSignal | undefined,
  ): Promise<AnalysisResult> {
    const { providers } = scope;
    const { metrics, skipped } = metricsFor(this.analysis, providers, [...scope.release.keys()]);
    const { emit } = this.opts;
    if (!metrics.length) {
      emit({
        type: "log",
        level: "info",
        message: `${label}: no metric applies; holding ${formatDuration(meta.durationMs ?? 0)}`,
      });
      await sleep(meta.durationMs ?? 0, signal);
      const result = new AnalysisRun({ metrics: [], providers: {}, intervalMs: 1000 }).result({
        finish: true,
      });
      if (signal?.aborted) result.interrupted = true;
      return result;
    }
    emit({
      type: "log",
      level: "info",
      message:
        `${label}: analysing ${metrics.map((m) => m.name).join(", ")} for ${formatDuration(meta.durationMs ?? 0)}` +
        (skipped.length ? ` (not measurable here: ${skipped.join(", ")})` : ""),
    });
    const reporter = roundReporter(label, emit);
    const warned = new Set<string>();
    const run = new AnalysisRun({
      metrics,
      providers,
      intervalMs: this.analysis.interval,
      logger: this.deps.logger,
      onMeasurement: (r) => {
        reporter.add(r);
        const m = metrics.find((x) => x.name === r.metric);
        if (
          m?.severity === "warning" &&
          (r.phase === "failed" || r.phase === "error") &&
          !warned.has(m.name)
        ) {
          warned.add(m.name);
          emit(warningAlert(this.spec, this.opts.revision, r, m));
        }
      },
    });
    let result: AnalysisResult;
    try {
      result = await run.run({ durationMs: meta.durationMs ?? 0, signal });
    } finally {
      reporter.flush();
    }
    this.evidence.push({ ...meta, ...(skipped.length ? { skipped } : {}), result });
    return result;
  }
}

export function warningAlert(
  spec: Pick<ResolvedSpec, "project" | "env">,
  revision: number,
  r: MeasurementRecord,
  m: AnalysisMetric,
) {
  return {
    type: "alert" as const,
    kind: "analysis.breach",
    severity: "warning" as const,
    revision,
    ...(m.service ? { service: m.service } : {}),
    message: `${spec.project} ${spec.env}: revision ${revision}: ${m.name} ${r.phase}: ${r.reason} (${formatThreshold(m)}; severity warning, no rollback)`,
    data: { metric: m.name, measurement: r },
  };
}
