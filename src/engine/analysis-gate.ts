/**
 * Metric analysis in a deploy (issue 5): the gate of each canary step, the bake after the
 * rollouts (the previous slot still running, so a failure is undone by a traffic switch), and
 * the providers the post-deploy watch (watch.ts) uses. Every AnalysisResult is kept in the
 * revision's facts (`facts.analysis`) — the evidence `slipway history ENV REV` shows.
 */
import {
  AnalysisRun,
  DriverStatsProvider,
  JsonProvider,
  PrometheusProvider,
  ProxyStatsProvider,
  ScrapeProvider,
  defaultMetrics,
  formatThreshold,
  type AnalysisMetric,
  type AnalysisResult,
  type AnalysisSpec,
  type Measurement,
  type MeasurementRecord,
  type MetricProvider,
  type MetricProviders,
  type ProviderContext,
} from "../analysis/index.js";
import type { Instance, InstanceStats } from "../drivers/driver.js";
import { Interrupted, OperationFailed, errorMessage } from "../errors.js";
import type { TargetStats } from "../proxy/contract.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { formatDuration } from "../util/units.js";
import { sleep } from "../util/sleep.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import type { StepGate } from "./strategies/canary.js";
import type { RolloutState } from "./strategies/common.js";

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

/** The new release's instances by service: what a run measures. */
export type ReleaseInstances = () => Promise<Map<string, Instance[]>>;

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

/**
 * The providers of a run over `release`: proxy stats filtered to the release's instance ids,
 * the driver's stats of those instances, Prometheus, and scrape/json on the instances' addresses.
 */
export function releaseProviders(deps: EngineDeps, release: ReleaseInstances): MetricProviders {
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
    scrape: new ScrapeProvider({ instanceUrls: async (s) => urlsOf((await release()).get(s) ?? []) }),
    json: new JsonProvider({ instanceUrls: async (s) => urlsOf((await release()).get(s) ?? []) }),
  };
  if (deps.driver.capabilities.stats)
    providers.driver = new DriverStatsProvider({
      stats: async (m) => {
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
