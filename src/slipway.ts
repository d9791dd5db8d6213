/**
 * The programmatic API. The CLI (in-process) and the daemon are its clients; everything
 * user-visible goes through here.
 */
import { hostname } from "node:os";
import { localActor } from "./actor.js";
import { CheckFailed, errorMessage, LockHeld, OperationFailed, Refused, UsageError } from "./errors.js";
import { createCheckRunner } from "./checks/index.js";
import type { CheckSpec } from "./checks/index.js";
import type { Instance, LogLine, LogOptions } from "./drivers/driver.js";
import type { EngineDeps } from "./engine/context.js";
import { noopSink, type EngineEvent, type EventSink } from "./engine/events.js";
import { acquireLock, holderAlive } from "./engine/lock.js";
import {
  dataRollbackAdvice,
  planDataRollback,
  recordDataRollback,
  rollbackData,
  runDataOp,
} from "./engine/data.js";
import { reapWarm } from "./engine/warm.js";
import { heal } from "./engine/heal.js";
import { sweepHealth, type SweepOptions, type SweepReport } from "./engine/health-sweep.js";
import {
  execInInstance,
  instanceStats,
  smokeTest,
  type ExecResult,
  type InstanceStatsRow,
} from "./engine/instance-ops.js";
import type { SmokeResult } from "./engine/strategies/common.js";
import { fingerprints as fingerprintServices, unchangedServices } from "./engine/carry.js";
import { plan as makePlan, type Plan } from "./engine/plan.js";
import { recoverEnvironment, type RecoveryReport } from "./engine/recover.js";
import { pruneArtifacts, runPlan, serviceUrls, type CheckRunner, type DeployResult } from "./engine/run.js";
import { routeKey } from "./engine/strategies/common.js";
import type { NotifierHub } from "./notify/hub.js";
import { proxied } from "./spec/defaults.js";
import type { Resolution } from "./spec/resolve.js";
import { rehydrate } from "./spec/resolve.js";
import type { ResolvedSpec } from "./spec/resolved.js";
import type { JournalStep, LockInfo, Revision } from "./store/store.js";

export interface DeployOptions {
  only?: string[];
  /** Recreate these services even when unchanged (`true`: every service). */
  forceRecreate?: string[] | true;
  /** Confirmed `confirm` checklist items. */
  confirm?: string[];
  /** Who runs the deploy and which items were confirmed at a prompt. */
  confirmer?: Confirmer;
  yes?: boolean;
  dryRun?: boolean;
  skipChecks?: boolean;
  description?: string;
  emit?: EventSink;
  signal?: AbortSignal;
}

/** Who confirmed `confirm` items, and which of them at a prompt (the rest by --confirm). */
export interface Confirmer {
  actor?: string;
  prompted?: string[];
}

export interface RollbackOptions {
  /** Revision to return to (default: the one before the current). */
  revision?: number;
  yes?: boolean;
  withDb?: boolean;
  dryRun?: boolean;
  /** Recorded with the revision (default "rollback to revision N"); the watch says why it rolled back. */
  description?: string;
  emit?: EventSink;
  signal?: AbortSignal;
}

export interface InstanceStatus {
  id: string;
  service: string;
  revision: number;
  version: string;
  slot: string;
  state: string;
  pid?: number;
  address?: string;
  startedAt: string;
  restarts: number;
  /** Kept warm after a promotion until then (a rollback to it is a switch). */
  warmUntil?: string;
  health?: { ok: boolean; message: string };
  /** Docker's own health status of the container (starting, healthy, unhealthy), when it has a check. */
  dockerHealth?: string;
}

export interface ServiceStatus {
  name: string;
  status: "running" | "degraded" | "stopped" | "starting";
  strategy: string;
  replicas: number;
  url?: string;
  instances: InstanceStatus[];
}

export interface EnvStatus {
  project: string;
  env: string;
  target: string;
  revision?: { number: number; version: string; status: string; createdAt: string; actor: string };
  lock?: LockInfo;
  services: ServiceStatus[];
}

export interface HistoryEntry {
  revision: Revision;
  steps?: JournalStep[];
}

export class Slipway {
  constructor(
    private readonly deps: EngineDeps,
    /** Alerts: the per-environment notifiers (the `alerts` and `silence` operations). */
    readonly notify?: NotifierHub,
  ) {}

  /**
   * The same API acting for `actor`, the person whose CLI sent the operation: revisions, locks and
   * confirmations then name them rather than the daemon's own user (kept when none was sent).
   */
  actingFor(actor: string | undefined): Slipway {
    if (!actor || actor === this.deps.actor) return this;
    return new Slipway({ ...this.deps, actor }, this.notify);
  }

  /** `who`: the person running the CLI (sent with the operation), else the daemon's own user. */
  private checkRunner(
    resolution: Resolution,
    confirm: string[] | undefined,
    who: Confirmer = {},
  ): CheckRunner {
    const run = createCheckRunner({
      vars: resolution.vars,
      secrets: resolution.secrets.values(),
      confirmed: confirm ?? [],
      prompted: who.prompted ?? [],
      confirmedBy: who.actor ?? this.deps.actor,
      ...(this.deps.preflight ? { target: this.deps.preflight } : {}),
    });
    return (spec, emit, signal) =>
      run({ dir: spec.dir, checks: spec.checks as CheckSpec[], services: spec.services }, emit, signal);
  }

  /**
   * The spec of what is deployed (current revision's snapshot, re-hydrated from the daemon's
   * environment), for read-only operations that sent only a light reference.
   */
  async deployedResolution(ref: ResolvedSpec): Promise<Resolution> {
    const current = await this.deps.store.currentRevision(ref.project, ref.env);
    const latest = (await this.deps.store.listRevisions(ref.project, ref.env, { limit: 1 }))[0];
    const snap = (current ?? latest)?.snapshot as ResolvedSpec | undefined;
    const spec = snap ? { ...rehydrate(snap, process.env), target: ref.target } : ref;
    return { spec, snapshot: snap ?? ref, secrets: new Map(), vars: {} };
  }

  /** Hand an operation's event to the engine's subscribers. */
  publish(project: string, env: string, e: EngineEvent): void {
    this.deps.publish?.(project, env, e);
  }

  /** Backups, restores and migrations (`backup`, `backups`, `restore`, `migrate` …; engine/data.ts). */
  dataOp(
    op: string,
    resolution: Resolution,
    args: Record<string, unknown>,
    ctx: { emit: EventSink; signal?: AbortSignal },
  ): Promise<unknown> {
    return runDataOp(this.deps, op, resolution, args, ctx);
  }

  /** `slipway check ENV`: the pre-flight checklist alone. */
  async check(
    resolution: Resolution,
    opts: { confirm?: string[]; confirmer?: Confirmer; emit?: EventSink; signal?: AbortSignal } = {},
  ): Promise<{ ok: boolean; summary: string; results: unknown[] }> {
    const r = await this.checkRunner(resolution, opts.confirm, opts.confirmer)(
      resolution.spec,
      opts.emit ?? noopSink,
      opts.signal,
    );
    if (!r.ok) {
      const e = new CheckFailed(`pre-flight checks failed: ${r.summary}`);
      e.details = { results: r.results };
      throw e;
    }
    return r;
  }

  static actor(): string {
    return localActor();
  }

  private protect(spec: ResolvedSpec, what: string, yes?: boolean): void {
    const p = spec.protect;
    if (!p) return;
    if (p.context && spec.target.kind === "kubernetes") {
      const ctx = ("context" in spec.target ? spec.target.context : undefined) ?? "";
      if (!ctx.includes(p.context))
        throw new Refused(
          `environment "${spec.env}" must run on a context containing "${p.context}", target context is "${ctx || "(default)"}"`,
        );
    }
    if (p.confirm && !yes)
      throw new Refused(`environment "${spec.env}" is protected: ${what} needs --yes (nothing was changed)`);
  }

  async plan(
    resolution: Resolution,
    opts: { only?: string[]; skipChecks?: boolean; forceRecreate?: string[] | true } = {},
  ): Promise<Plan> {
    return (await this.planDeploy(resolution, opts)).plan;
  }

  /** The plan, and the fingerprints that tell the next deploy which services are unchanged. */
  private async planDeploy(
    resolution: Resolution,
    opts: { only?: string[]; skipChecks?: boolean; forceRecreate?: string[] | true },
  ): Promise<{ plan: Plan; fingerprints: Record<string, string> }> {
    const spec = resolution.spec;
    this.checkOnly(spec, opts.only);
    if (Array.isArray(opts.forceRecreate)) this.checkOnly(spec, opts.forceRecreate, "--force-recreate");
    const [current, revs, live] = await Promise.all([
      this.deps.store.currentRevision(spec.project, spec.env),
      this.deps.store.listRevisions(spec.project, spec.env, { limit: 1 }),
      this.deps.store.listInstances(spec.project, spec.env),
    ]);
    const names = opts.only?.length ? opts.only : Object.keys(spec.services);
    const fingerprints = await fingerprintServices(this.deps, spec, names);
    const unchanged = unchangedServices({
      current,
      fingerprints,
      live,
      spec,
      forceRecreate: opts.forceRecreate,
    });
    const plan = makePlan({
      spec,
      current,
      nextRevision: (revs[0]?.number ?? 0) + 1,
      live,
      only: opts.only,
      skipChecks: opts.skipChecks,
      unchanged,
    });
    return { plan, fingerprints };
  }

  private checkOnly(spec: ResolvedSpec, only?: string[], flag = "--only") {
    for (const s of only ?? [])
      if (!spec.services[s])
        throw new UsageError(
          `${flag} ${s}: no such service (services: ${Object.keys(spec.services).join(", ")})`,
        );
  }

  async deploy(
    resolution: Resolution,
    opts: DeployOptions = {},
  ): Promise<DeployResult | { dryRun: true; plan: Plan }> {
    const spec = resolution.spec;
    const emit = opts.emit ?? noopSink;
    if (opts.dryRun) return { dryRun: true, plan: await this.plan(resolution, opts) };
    this.protect(spec, "deploy", opts.yes);
    return this.locked(spec, "deploy", emit, async () => {
      const { plan: p, fingerprints } = await this.planDeploy(resolution, opts);
      const current = await this.deps.store.currentRevision(spec.project, spec.env);
      emit({
        type: "log",
        level: "info",
        message: `deploying ${spec.project} ${spec.env} ${spec.version} as revision ${p.revision}`,
      });
      return runPlan(this.deps, {
        resolution,
        plan: p,
        current,
        description: opts.description ?? `deploy ${spec.version}`,
        skipChecks: !!opts.skipChecks,
        emit,
        signal: opts.signal,
        checks: this.checkRunner(resolution, opts.confirm, opts.confirmer),
        fingerprints,
      });
    });
  }

  async rollback(
    resolution: Resolution,
    opts: RollbackOptions = {},
  ): Promise<DeployResult | { dryRun: true; plan: Plan }> {
    const cur = resolution.spec;
    const emit = opts.emit ?? noopSink;
    this.protect(cur, "rollback", opts.yes || opts.dryRun);
    const run = async () => {
      const { store } = this.deps;
      const current = await store.currentRevision(cur.project, cur.env);
      const revs = await store.listRevisions(cur.project, cur.env, { limit: 200 });
      let target: Revision | undefined;
      if (opts.revision !== undefined) {
        target = revs.find((r) => r.number === opts.revision);
        if (!target)
          throw new UsageError(
            `revision ${opts.revision} not found in ${cur.env} (see: slipway history ${cur.env})`,
          );
        if (target.status === "failed" || target.status === "in-progress")
          throw new UsageError(
            `revision ${opts.revision} is ${target.status}; only a revision that was deployed can be restored`,
          );
      } else {
        target = revs.find(
          (r) =>
            (r.status === "superseded" || r.status === "deployed") &&
            r.number !== current?.number &&
            (!current || r.number < current.number),
        );
        if (!target) throw new UsageError(`no earlier revision to roll back to in ${cur.env}`);
      }
      if (current && target.number === current.number)
        throw new UsageError(`revision ${target.number} is already deployed`);
      const vars = { ...process.env, ...Object.fromEntries(resolution.secrets) };
      const spec = rehydrate(target.snapshot as ResolvedSpec, vars);
      const res: Resolution = {
        spec,
        snapshot: target.snapshot as ResolvedSpec,
        secrets: resolution.secrets,
        vars: resolution.vars,
      };
      const live = await store.listInstances(cur.project, cur.env);
      const p = makePlan({
        spec,
        current,
        nextRevision: (revs[0]?.number ?? 0) + 1,
        live,
        rollbackOf: target.number,
        skipChecks: true,
      });
      if (opts.dryRun) return { dryRun: true as const, plan: p };
      const dataPlan = planDataRollback(revs, target);
      if (dataPlan.steps.length && !opts.withDb)
        emit({ type: "log", level: "warn", message: dataRollbackAdvice(cur.env, dataPlan) });
      // --with-db: the data goes back first (down-migrations or backups); a failure stops here.
      const data = opts.withDb
        ? await rollbackData(this.deps, resolution, revs, dataPlan, { emit, signal: opts.signal })
        : undefined;
      emit({
        type: "log",
        level: "info",
        message: `rolling ${cur.env} back to revision ${target.number} (${target.version}) as revision ${p.revision}`,
      });
      const result = await runPlan(this.deps, {
        resolution: res,
        plan: p,
        current,
        rollbackOf: target,
        description: opts.description ?? `rollback to revision ${target.number}`,
        skipChecks: true,
        emit,
        signal: opts.signal,
      }).catch((e: unknown) => {
        if (data?.steps.length)
          emit({
            type: "log",
            level: "error",
            message: `the data was already returned to revision ${target.number} (${data.steps.map((x) => `${x.service}: ${x.result}`).join("; ")}) but the code rollback failed`,
          });
        throw e;
      });
      if (data?.steps.length) await recordDataRollback(this.deps, cur, result.revision, data);
      if (current)
        await store.updateRevision(cur.project, cur.env, current.number, { status: "rolled-back" });
      emit({
        type: "alert",
        kind: "deploy.rolled-back",
        severity: "warning",
        revision: result.revision,
        message: `${cur.project} ${cur.env}: rolled back to revision ${target.number} (${target.version})`,
      });
      return result;
    };
    if (opts.dryRun) return run();
    return this.locked(cur, "rollback", emit, run);
  }

  /** Run `fn` holding the environment lock; a stale lock (dead holder) is recovered first. */
  private async locked<T>(
    spec: ResolvedSpec,
    operation: string,
    emit: EventSink,
    fn: () => Promise<T>,
  ): Promise<T> {
    const lock = await acquireLock(
      this.deps.store,
      spec.project,
      spec.env,
      this.deps.actor,
      operation,
      async (stale) => {
        emit({
          type: "log",
          level: "warn",
          message: `the previous ${stale.operation} (${stale.holder}) was interrupted; recovering`,
        });
        const r = await recoverEnvironment(this.deps, spec.project, spec.env, emit);
        for (const x of r.revisions)
          emit({ type: "log", level: "warn", message: `revision ${x.number}: ${x.outcome} (${x.message})` });
        return true;
      },
    );
    try {
      await reapWarm(this.deps, spec.project, spec.env, { spec });
      return await fn();
    } finally {
      await this.deps.store.releaseLock(spec.project, spec.env, lock.holder);
    }
  }

  /**
   * Housekeeping the daemon runs every few seconds: stop warm instances whose window is over.
   * Skipped while an operation holds the environment's lock.
   */
  async maintain(project: string, env: string, latest?: Resolution): Promise<string[]> {
    let lock: LockInfo;
    try {
      lock = await acquireLock(this.deps.store, project, env, this.deps.actor, "maintain");
    } catch {
      return [];
    }
    try {
      const current = await this.deps.store.currentRevision(project, env);
      const reaped = await reapWarm(this.deps, project, env, {
        spec: current?.snapshot as ResolvedSpec | undefined,
      });
      const emit: EventSink = (e) => this.publish(project, env, e);
      const replaced = await heal(this.deps, project, env, latest, emit);
      return [...reaped, ...replaced];
    } finally {
      await this.deps.store.releaseLock(project, env, lock.holder);
    }
  }

  /** A scheduled health sweep (`run: health`); skipped (undefined) while an operation holds the lock. */
  async sweepHealth(project: string, env: string, opts: SweepOptions): Promise<SweepReport | undefined> {
    let lock: LockInfo;
    try {
      lock = await acquireLock(this.deps.store, project, env, this.deps.actor, "health-sweep");
    } catch (e) {
      if (e instanceof LockHeld) return undefined;
      throw e;
    }
    try {
      return await sweepHealth(this.deps, project, env, opts, (e) => this.publish(project, env, e));
    } finally {
      await this.deps.store.releaseLock(project, env, lock.holder);
    }
  }

  async recover(
    project: string,
    env: string,
    emit: EventSink = noopSink,
  ): Promise<RecoveryReport | undefined> {
    const holder = await this.deps.store.getLock(project, env);
    if (holder) {
      // Only a stale lock means an interrupted operation; acquireLock decides.
      let report: RecoveryReport | undefined;
      try {
        const lock = await acquireLock(
          this.deps.store,
          project,
          env,
          this.deps.actor,
          "recover",
          async () => {
            report = await recoverEnvironment(this.deps, project, env, emit);
            return true;
          },
        );
        await this.deps.store.releaseLock(project, env, lock.holder);
      } catch (e) {
        if (e instanceof LockHeld) return undefined; // held by a live operation
        throw e;
      }
      return report;
    }
    const revs = await this.deps.store.listRevisions(project, env, { limit: 5 });
    if (revs.some((r) => r.status === "in-progress"))
      return recoverEnvironment(this.deps, project, env, emit);
    return undefined;
  }

  async status(spec: ResolvedSpec, opts: { probe?: boolean } = {}): Promise<EnvStatus> {
    const { store, driver } = this.deps;
    const [current, lock, records, live] = await Promise.all([
      store.currentRevision(spec.project, spec.env),
      store.getLock(spec.project, spec.env),
      store.listInstances(spec.project, spec.env),
      driver.inspect(spec.project, spec.env).catch(() => [] as Instance[]),
    ]);
    const liveById = new Map(live.map((i) => [i.id, i]));
    const deployed = (current?.snapshot as ResolvedSpec | undefined)?.services ?? {};
    const names = [...new Set([...Object.keys(spec.services), ...records.map((r) => r.service)])];
    const urls = new Map(serviceUrls(spec).map((u) => [u.service, u.url]));
    const services: ServiceStatus[] = [];
    for (const name of names) {
      const svc = spec.services[name] ?? deployed[name];
      const insts = records.filter((r) => r.service === name);
      const statuses: InstanceStatus[] = await Promise.all(
        insts.map(async (r) => {
          const l = liveById.get(r.id);
          const st: InstanceStatus = {
            id: r.id,
            service: r.service,
            revision: r.revision,
            version: r.version,
            slot: r.warmUntil ? "warm" : r.slot,
            state: l ? l.state : "exited",
            warmUntil: r.warmUntil,
            pid: l?.appPid ?? l?.pid,
            address: r.port ? `${r.host ?? "127.0.0.1"}:${r.port}` : undefined,
            startedAt: r.startedAt,
            restarts: l?.restarts ?? r.restarts,
            ...(typeof l?.meta?.dockerHealth === "string" ? { dockerHealth: l.meta.dockerHealth } : {}),
          };
          if (opts.probe !== false && l && svc) {
            const h = await this.deps
              .health(svc, l, AbortSignal.timeout(3000), { once: true })
              .catch((e) => ({ healthy: false, message: errorMessage(e), attempts: 1 }));
            st.health = { ok: h.healthy, message: h.message };
          }
          return st;
        }),
      );
      const serving = statuses.filter((s) => !s.warmUntil);
      const running = serving.filter(
        (s) => s.state === "running" && s.health?.ok !== false && s.dockerHealth !== "unhealthy",
      );
      let status: ServiceStatus["status"] = "stopped";
      if (serving.length) {
        if (serving.some((s) => s.state === "crashloop")) status = "degraded";
        else if (running.length >= (svc?.replicas ?? 1)) status = "running";
        else if (serving.some((s) => s.state === "starting")) status = "starting";
        else status = "degraded";
      }
      services.push({
        name,
        status,
        strategy: svc?.rollout.strategy ?? "?",
        replicas: svc?.replicas ?? 0,
        url: insts.length ? urls.get(name) : undefined,
        instances: statuses,
      });
    }
    return {
      project: spec.project,
      env: spec.env,
      target: spec.target.kind,
      revision: current
        ? {
            number: current.number,
            version: current.version,
            status: current.status,
            createdAt: current.createdAt,
            actor: current.actor,
          }
        : undefined,
      lock,
      services,
    };
  }

  async history(
    project: string,
    env: string,
    opts: { revision?: number; limit?: number } = {},
  ): Promise<HistoryEntry[]> {
    const { store } = this.deps;
    if (opts.revision !== undefined) {
      const r = await store.getRevision(project, env, opts.revision);
      if (!r) throw new UsageError(`revision ${opts.revision} not found in ${env}`);
      return [{ revision: r, steps: await store.journal(project, env, r.number) }];
    }
    return (await store.listRevisions(project, env, { limit: opts.limit ?? 20 })).map((revision) => ({
      revision,
    }));
  }

  /** With `revision`: that revision's instances, live or retired (stopped, kept by the Docker target). */
  async *logs(
    spec: ResolvedSpec,
    service: string | undefined,
    opts: LogOptions & { revision?: number },
  ): AsyncIterable<LogLine> {
    if (service && !spec.services[service])
      throw new UsageError(`no service "${service}" (services: ${Object.keys(spec.services).join(", ")})`);
    const { revision, ...logOpts } = opts;
    const records = await this.deps.store.listInstances(spec.project, spec.env);
    const retired =
      revision !== undefined ? ((await this.deps.driver.retired?.(spec.project, spec.env)) ?? []) : [];
    const insts = [...records, ...retired].filter(
      (r) => (!service || r.service === service) && (revision === undefined || r.revision === revision),
    );
    if (!insts.length)
      throw new OperationFailed(
        revision === undefined
          ? `no running instance${service ? ` of ${service}` : ""} in ${spec.env}`
          : `no instance of revision ${revision}${service ? ` of ${service}` : ""} in ${spec.env}, running or kept stopped` +
              (this.deps.driver.retired
                ? " (pruned, or it never started one)"
                : ` (the ${this.deps.driver.name} target keeps none stopped)`),
      );
    yield* this.deps.driver.logs(insts, logOpts);
  }

  /** `slipway exec ENV SVC -- CMD`: a command inside a running instance (engine/instance-ops.ts). */
  exec(
    resolution: Resolution,
    service: string,
    command: string[],
    opts: { instance?: string; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ExecResult> {
    return execInInstance(this.deps, resolution, service, command, opts);
  }

  /** `slipway stats ENV [SVC]`: CPU and memory per instance. */
  stats(spec: ResolvedSpec, service?: string): Promise<{ instances: InstanceStatsRow[] }> {
    return instanceStats(this.deps, spec, service);
  }

  /** `slipway smoke ENV [SVC]`: the deployed revision's smoke requests, now. */
  async smoke(
    spec: ResolvedSpec,
    service?: string,
  ): Promise<{ revision: number; results: SmokeResult[]; skipped: string[] }> {
    const current = await this.deps.store.currentRevision(spec.project, spec.env);
    if (!current) throw new OperationFailed(`nothing is deployed to ${spec.env}`);
    return { revision: current.number, ...(await smokeTest(spec, service)) };
  }

  async health(spec: ResolvedSpec): Promise<EnvStatus> {
    return this.status(spec, { probe: true });
  }

  async stop(
    resolution: Resolution,
    opts: { service?: string; yes?: boolean; emit?: EventSink } = {},
  ): Promise<{ stopped: string[] }> {
    const spec = resolution.spec;
    const emit = opts.emit ?? noopSink;
    if (opts.service && !spec.services[opts.service])
      throw new UsageError(
        `no service "${opts.service}" (services: ${Object.keys(spec.services).join(", ")})`,
      );
    return this.locked(spec, "stop", emit, () => this.stopAll(spec, opts.service, emit));
  }

  async destroy(
    resolution: Resolution,
    opts: { yes?: boolean; emit?: EventSink } = {},
  ): Promise<{ stopped: string[] }> {
    const spec = resolution.spec;
    const emit = opts.emit ?? noopSink;
    this.protect(spec, "destroy", opts.yes);
    return this.locked(spec, "destroy", emit, async () => {
      const r = await this.stopAll(spec, undefined, emit);
      for (const s of Object.keys(spec.services)) await this.deps.driver.prune(spec.project, spec.env, s, []);
      const cur = await this.deps.store.currentRevision(spec.project, spec.env);
      if (cur)
        await this.deps.store.updateRevision(spec.project, spec.env, cur.number, {
          status: "superseded",
          reason: "environment destroyed",
        });
      return r;
    });
  }

  private async stopAll(spec: ResolvedSpec, service: string | undefined, emit: EventSink) {
    const records = await this.deps.store.listInstances(spec.project, spec.env);
    const insts = records.filter((r) => !service || r.service === service);
    const services = [...new Set(insts.map((i) => i.service))];
    // Reverse dependency order: dependents first.
    const order = Object.keys(spec.services).reverse();
    services.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const stopped: string[] = [];
    for (const name of services) {
      const svc = spec.services[name];
      if (svc && proxied(svc))
        await (await this.deps.router()).removeRoute(routeKey(spec, name)).catch(() => {});
      for (const i of insts.filter((x) => x.service === name)) {
        await this.deps.driver.stop(i, {
          signal: svc?.stop.signal ?? "SIGTERM",
          graceMs: svc?.stop.grace ?? 10_000,
        });
        await this.deps.store.removeInstance(i.project, i.env, i.id);
        stopped.push(i.id);
      }
      emit({ type: "log", level: "info", service: name, message: `${name}: stopped` });
    }
    return { stopped };
  }

  /** `slipway prune ENV`: drop release artifacts beyond `retain` (or `keep`) earlier releases. */
  async prune(
    resolution: Resolution,
    opts: { keep?: number; emit?: EventSink } = {},
  ): Promise<{ revision?: number }> {
    const spec = resolution.spec;
    return this.locked(spec, "prune", opts.emit ?? noopSink, async () => {
      const current = await this.deps.store.currentRevision(spec.project, spec.env);
      if (!current) return {};
      const deployed = rehydrate(current.snapshot as ResolvedSpec, process.env);
      await pruneArtifacts(this.deps, deployed, current.number, opts.keep);
      return { revision: current.number };
    });
  }

  /**
   * `slipway lock ENV --release`: clear a lock whose holder is gone. A holder alive on this host
   * is mid-operation, so it is refused. What a dead holder left half done is recovered from the
   * journal first, so the next operation never starts from a half state.
   */
  async releaseLock(
    project: string,
    env: string,
    emit: EventSink = noopSink,
  ): Promise<{ released: boolean; holder?: LockInfo; recovery?: RecoveryReport }> {
    const { store } = this.deps;
    const held = await store.getLock(project, env);
    if (!held) return { released: false };
    if (holderAlive(held)) {
      const e = new LockHeld(env, held.holder, held.acquiredAt, held.operation);
      e.message = `environment "${env}" is locked by ${held.holder} (${held.operation}) since ${held.acquiredAt}, and that process is still running: not released`;
      throw e;
    }
    let recovery: RecoveryReport | undefined;
    const recover = async () => {
      recovery = await recoverEnvironment(this.deps, project, env, emit);
      return true;
    };
    // A holder on another host cannot be checked from here: the user's word that it is gone
    // is what --release means, so its lock is dropped before ours is taken.
    if (!held.holder.endsWith(`@${hostname()}`)) await store.releaseLock(project, env, held.holder);
    const lock = await acquireLock(store, project, env, this.deps.actor, "recover", recover);
    try {
      if (!recovery) await recover();
    } finally {
      await store.releaseLock(project, env, lock.holder);
    }
    for (const x of recovery?.revisions ?? [])
      emit({ type: "log", level: "warn", message: `revision ${x.number}: ${x.outcome} (${x.message})` });
    return { released: true, holder: held, recovery };
  }

  async getLock(project: string, env: string): Promise<LockInfo | undefined> {
    return this.deps.store.getLock(project, env);
  }
}
