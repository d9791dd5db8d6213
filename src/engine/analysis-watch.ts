/**
 * The post-deploy watch (issue 5): after a deploy succeeds the daemon keeps measuring the new
 * release every `analysis.watch.interval` (default `analysis.interval`) for
 * `analysis.watch.autoRollbackWindow`. A critical metric that fails (or errors) raises an
 * `analysis.breach` alert and rolls the environment back to the previous revision; a warning
 * metric only alerts. After the window the watch goes on for `analysis.watch.alertWindow`
 * (or until another revision replaces the release): a failure then raises a critical
 * `analysis.breach` that says it was not rolled back, and ends the watch. The evidence goes to
 * the watched revision's `facts.analysis`.
 *
 * The watch lives in the daemon: Runtime.tick() discovers the revisions to watch, each watch
 * runs on its own (unref'd) timer. An in-process CLI run never ticks, so it has no watch.
 */
import {
  AnalysisRun,
  type AnalysisMetric,
  type AnalysisResult,
  type AnalysisSpec,
} from "../analysis/index.js";
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { Target } from "../spec/schema.js";
import type { Revision, Store } from "../store/store.js";
import { formatDuration } from "../util/units.js";
import {
  activeAnalysis,
  metricsFor,
  releaseProviders,
  warningAlert,
  type AnalysisEvidence,
} from "./analysis-gate.js";
import { evidenceOf } from "./evidence.js";
import { autoRollback } from "./auto-rollback.js";
import type { EngineDeps } from "./context.js";
import type { EngineEvent } from "./events.js";
import { servesIn } from "./carry.js";

/** What the watcher needs from the engine (factory.ts builds it). */
export interface WatchHost {
  store: Store;
  /** Engine dependencies (driver, proxy) for a revision's target. */
  deps(target: Target): EngineDeps;
  /** Hand an event to the engine's subscribers (alerts, timeline). */
  publish(project: string, env: string, e: EngineEvent): void;
  /** The latest resolution an operation brought for the environment (its secret values). */
  latest(project: string, env: string): Resolution | undefined;
  logger: Logger;
}

export interface WatchInfo {
  project: string;
  env: string;
  revision: number;
  /** End of the auto-rollback window. */
  until: string;
  /** End of the watch (after it, failures only alert). */
  alertUntil: string;
  state: "watching" | "breached" | "rolling-back" | "rolled-back" | "alerted" | "ended";
}

/** Measurements kept in the record of a long watch (the newest ones). */
const KEEP_MEASUREMENTS = 200;

export class AnalysisWatcher {
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  constructor(private readonly host: WatchHost) {}

  /** Start watches for newly deployed revisions of these environments; forget finished ones. */
  async tick(envs: Iterable<{ project: string; env: string }>, now = Date.now()): Promise<void> {
    if (this.closed) return;
    for (const { project, env } of envs) {
      const key = `${project}\u0000${env}`;
      const existing = this.watches.get(key);
      if (existing && !existing.finished) continue;
      const current = await this.host.store.currentRevision(project, env);
      if (!current || !watchable(current, now)) continue;
      if (existing?.revision === current.number) continue;
      const w = new Watch(this.host, current);
      this.watches.set(key, w);
      this.host.logger.info(
        `watching ${project}/${env} revision ${current.number} until ${new Date(w.until).toISOString()}`,
      );
      w.start();
    }
  }

  list(): WatchInfo[] {
    return [...this.watches.values()].map((w) => w.info());
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.stop();
  }
}

/** A deployed (not rolled-back-to) revision with an analysis, inside its window, not watched to the end yet. */
export function watchable(rev: Revision, now = Date.now()): boolean {
  if (rev.status !== "deployed" || rev.rollbackOf !== undefined || !rev.finishedAt) return false;
  const a = activeAnalysis(rev.snapshot as ResolvedSpec);
  const window = a?.watch.autoRollbackWindow ?? 0;
  if (window <= 0 || Date.parse(rev.finishedAt) + window + (a?.watch.alertWindow ?? 0) <= now) return false;
  return !evidenceOf(rev.facts).some((e) => e.phase === "watch");
}

class Watch {
  readonly project: string;
  readonly env: string;
  readonly revision: number;
  readonly until: number;
  /** The rollback window plus alertWindow. */
  readonly horizon: number;
  finished = false;
  private state: WatchInfo["state"] = "watching";
  private readonly spec: ResolvedSpec;
  private readonly analysis: AnalysisSpec;
  private readonly intervalMs: number;
  private readonly ac = new AbortController();
  private timer?: NodeJS.Timeout;
  private run?: AnalysisRun;
  private metrics: AnalysisMetric[] = [];
  private skipped: string[] = [];
  private startedAt = Date.now();
  private readonly warned = new Set<string>();
  /** The watched revision: its own instances and the kept ones of unchanged services. */
  private readonly rev: Revision;

  constructor(
    private readonly host: WatchHost,
    rev: Revision,
  ) {
    this.rev = rev;
    this.project = rev.project;
    this.env = rev.env;
    this.revision = rev.number;
    this.spec = rev.snapshot as ResolvedSpec;
    this.analysis = activeAnalysis(this.spec) as AnalysisSpec;
    this.until = Date.parse(rev.finishedAt as string) + this.analysis.watch.autoRollbackWindow;
    // Snapshots from before alertWindow existed have none: they stop at the rollback window.
    this.horizon = this.until + (this.analysis.watch.alertWindow ?? 0);
    this.intervalMs = this.analysis.watch.interval ?? this.analysis.interval;
  }

  info(): WatchInfo {
    const { project, env, revision } = this;
    return {
      project,
      env,
      revision,
      until: new Date(this.until).toISOString(),
      alertUntil: new Date(this.horizon).toISOString(),
      state: this.state,
    };
  }

  start(): void {
    void this.begin().catch((e) => this.fail(e));
  }

  stop(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.ac.abort();
  }

  private fail(e: unknown): void {
    this.host.logger.error(
      `watch of ${this.project}/${this.env} revision ${this.revision}: ${errorMessage(e)}`,
    );
    this.stop();
  }

  private get deps(): EngineDeps {
    return this.host.deps(this.spec.target);
  }

  /** The watched revision's instances (heal may replace them; re-read every round), by service. */
  private async release(): Promise<Map<string, Instance[]>> {
    const records = await this.host.store.listInstances(this.project, this.env);
    const out = new Map<string, Instance[]>();
    for (const i of records) {
      if (!servesIn(this.rev, i) || i.warmUntil !== undefined) continue;
      out.set(i.service, [...(out.get(i.service) ?? []), i]);
    }
    return out;
  }

  private async begin(): Promise<void> {
    const rev = await this.host.store.getRevision(this.project, this.env, this.revision);
    const providers = releaseProviders(this.deps, () => this.release());
    const { metrics, skipped } = metricsFor(this.analysis, providers, rev?.services ?? []);
    this.metrics = metrics;
    this.skipped = skipped;
    if (!metrics.length) {
      this.finished = true;
      this.state = "ended";
      return;
    }
    this.run = new AnalysisRun({
      metrics,
      providers,
      intervalMs: this.intervalMs,
      logger: this.host.logger,
    });
    // The proxy's counters are cumulative: start every proxy metric's window now, so the watch
    // judges traffic after the deploy, not the deploy's own (already judged) requests.
    const ctx = { signal: this.ac.signal, now: () => Date.now() };
    for (const m of metrics)
      if (m.provider === "proxy") await providers.proxy?.measure(m, ctx).catch(() => undefined);
    this.startedAt = Date.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.finished) return;
    const wait = Math.min(this.intervalMs, Math.max(0, this.horizon - Date.now()));
    this.timer = setTimeout(() => void this.round().catch((e) => this.fail(e)), wait);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (this.finished || !this.run) return;
    const current = await this.host.store.currentRevision(this.project, this.env);
    if (current?.number !== this.revision) {
      // Another deploy or a rollback replaced the release: its own watch takes over.
      await this.end(`revision ${current?.number ?? "none"} replaced it`);
      return;
    }
    const snap = await this.run.measureOnce(this.ac.signal);
    if (this.finished) return;
    for (const r of snap.measurements) {
      const m = this.metrics.find((x) => x.name === r.metric);
      if (
        m?.severity === "warning" &&
        (r.phase === "failed" || r.phase === "error") &&
        !this.warned.has(m.name)
      ) {
        this.warned.add(m.name);
        this.publish(warningAlert(this.spec, this.revision, r, m));
      }
    }
    if (snap.outcome === "failed" || snap.outcome === "error") {
      if (Date.now() < this.until) await this.breach();
      else await this.alertOnly();
      return;
    }
    if (Date.now() >= this.horizon) {
      await this.end("window over");
      return;
    }
    this.schedule();
  }

  private publish(e: EngineEvent): void {
    this.host.publish(this.project, this.env, e);
  }

  private evidence(result: AnalysisResult): AnalysisEvidence {
    const dropped = Math.max(0, result.measurements.length - KEEP_MEASUREMENTS);
    return {
      phase: "watch",
      durationMs: Date.now() - this.startedAt,
      ...(this.skipped.length ? { skipped: this.skipped } : {}),
      ...(dropped ? { dropped } : {}),
      result: { ...result, measurements: result.measurements.slice(dropped) },
    };
  }

  /** Append the evidence to the watched revision's facts (facts are replaced, so read first). */
  private async record(e: AnalysisEvidence, reason?: string): Promise<void> {
    const { store } = this.host;
    const rev = await store.getRevision(this.project, this.env, this.revision);
    if (!rev) return;
    await store.updateRevision(this.project, this.env, this.revision, {
      ...(reason ? { reason } : {}),
      facts: { ...rev.facts, analysis: [...evidenceOf(rev.facts), e] },
    });
  }

  private async end(why: string): Promise<void> {
    this.stop();
    this.state = "ended";
    if (!this.run) return;
    const result = this.run.result({ finish: true });
    result.summary += ` (watch ended: ${why})`;
    await this.record(this.evidence(result));
    this.host.logger.info(
      `watch of ${this.project}/${this.env} revision ${this.revision} ended: ${result.summary}`,
    );
  }

  private async breach(): Promise<void> {
    this.stop();
    this.state = "breached";
    const result = (this.run as AnalysisRun).result();
    const rev = await this.host.store.getRevision(this.project, this.env, this.revision);
    const previous = (rev?.facts.previous as number | undefined) ?? undefined;
    const resolution = this.host.latest(this.project, this.env);
    const canRollBack = previous !== undefined && resolution !== undefined;
    const after = formatDuration(Date.now() - this.startedAt);
    const action = canRollBack
      ? `rolling back to revision ${previous}`
      : previous === undefined
        ? "no earlier revision to roll back to"
        : `the daemon restarted since the deploy and has no secrets for it: roll back by hand (slipway rollback ${this.env})`;
    await this.record(this.evidence(result), `analysis breach ${after} after the deploy: ${result.summary}`);
    this.publish({
      type: "alert",
      kind: "analysis.breach",
      severity: "critical",
      revision: this.revision,
      message: `${this.project} ${this.env}: revision ${this.revision} (${rev?.version ?? "?"}) ${result.summary}; ${action}`,
      data: { decidedBy: result.decidedBy, summary: result.summary, previous },
    });
    if (!canRollBack) return;
    this.state = "rolling-back";
    const rolled = await this.rollback(resolution, previous, result);
    this.state = rolled ? "rolled-back" : "breached";
  }

  /** A failure after the auto-rollback window: one critical alert, no rollback; the watch ends. */
  private async alertOnly(): Promise<void> {
    this.stop();
    this.state = "alerted";
    const result = (this.run as AnalysisRun).result();
    const rev = await this.host.store.getRevision(this.project, this.env, this.revision);
    const window = formatDuration(this.analysis.watch.autoRollbackWindow);
    const after = formatDuration(Date.now() - (this.until - this.analysis.watch.autoRollbackWindow));
    result.summary += ` (watch ended: ${after} after the deploy, past the ${window} auto-rollback window; not rolled back)`;
    await this.record(this.evidence(result));
    this.publish({
      type: "alert",
      kind: "analysis.breach",
      severity: "critical",
      revision: this.revision,
      message:
        `${this.project} ${this.env}: revision ${this.revision} (${rev?.version ?? "?"}) ${result.summary}; ` +
        `roll back by hand if needed (slipway rollback ${this.env})`,
      data: { decidedBy: result.decidedBy, summary: result.summary, rolledBack: false },
    });
  }

  /** Roll back, retrying while housekeeping briefly holds the lock; stop if another operation replaced the release. */
  private async rollback(resolution: Resolution, previous: number, result: AnalysisResult): Promise<boolean> {
    const { store, logger } = this.host;
    const emit = (e: EngineEvent) => this.publish(e);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await autoRollback(this.host, this.project, this.env, {
          latest: resolution,
          revision: previous,
          emit,
          description: `automatic rollback to revision ${previous}: ${result.summary}`,
          trigger: { kind: "analysis.breach", revision: this.revision, decidedBy: result.decidedBy },
        });
        logger.warn(`${this.project}/${this.env}: rolled back to revision ${previous} (${result.summary})`);
        return true;
      } catch (e) {
        const cur = await store.currentRevision(this.project, this.env).catch(() => undefined);
        if (cur && cur.number !== this.revision) {
          // Another deploy or rollback finished meanwhile: the release is no longer live.
          logger.info(
            `${this.project}/${this.env}: revision ${cur.number} replaced ${this.revision}; no rollback`,
          );
          return false;
        }
        if ((e as Error).name === "LockHeld" && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        const msg = `${this.project} ${this.env}: automatic rollback of revision ${this.revision} failed: ${errorMessage(e)}`;
        logger.error(msg);
        this.publish({
          type: "alert",
          kind: "analysis.rollback-failed",
          severity: "critical",
          revision: this.revision,
          message: msg,
        });
        return false;
      }
    }
  }
}
