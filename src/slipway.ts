/**
 * The programmatic API. The CLI (in-process) and the daemon are its clients; everything
 * user-visible goes through here. A façade: each verb is the engine's (src/engine/), this
 * class binds it to one target's dependencies and the acting user.
 */
import { localActor } from "./actor.js";
import { CheckFailed, OperationFailed, UsageError } from "./errors.js";
import type { LogLine, LogOptions } from "./drivers/driver.js";
import type { EngineDeps } from "./engine/context.js";
import {
  checkRunner,
  deploy,
  planDeploy,
  type Confirmer,
  type DeployOptions,
  type PlanOptions,
} from "./engine/deploy.js";
import { runDataOp } from "./engine/data/index.js";
import { readableSpec, restartableSpec, snapshotOf } from "./engine/deployed.js";
import { savePlan } from "./engine/deploy-saved.js";
import { history, type HistoryEntry } from "./engine/history.js";
import type { SavedOptions, SavedPlan } from "./engine/infra/saved-plan.js";
import { noopSink, type EngineEvent, type EventSink } from "./engine/events.js";
import { maintain, sweepHealthUnlocked } from "./engine/housekeeping.js";
import type { SweepOptions, SweepReport } from "./engine/health-sweep.js";
import {
  execInInstance,
  instanceStats,
  smokeTest,
  type ExecResult,
  type InstanceStatsRow,
} from "./engine/instance-commands.js";
import { locked, recover, releaseLock } from "./engine/locked.js";
import type { Plan } from "./engine/plan.js";
import { protect, protectionEvent, type Confirmation } from "./engine/protect.js";
import type { RecoveryReport } from "./engine/recover.js";
import { restart, type RestartOptions } from "./engine/restart.js";
import { scale, type ScaleOptions, type ScaleResult } from "./engine/scale.js";
import { listSecrets, secretAgesFor, type SecretListing } from "./engine/secrets.js";
import type { SecretAges } from "./checks/types.js";
import { rollback, type RollbackOptions } from "./engine/rollback.js";
import { pruneArtifacts, type DeployResult } from "./engine/run.js";
import { envStatus, type EnvStatus } from "./engine/status.js";
import { destroyEnvironment, stopAll } from "./engine/stop.js";
import type { SmokeResult } from "./engine/strategies/common.js";
import type { NotifierHub } from "./notify/hub.js";
import type { RuleWatcher } from "./engine/rules/rule-watch.js";
import { carryStatus, type RuleStatus } from "./engine/rules/rule-state.js";
import { runRunbook, type RunbookOptions, type RunbookReport } from "./engine/runbook/run.js";
import type { Resolution } from "./spec/resolve.js";
import type { ResolvedSpec } from "./spec/resolved.js";
import type { LockInfo } from "./store/store.js";

export type { RollbackOptions } from "./engine/rollback.js";
export type { EnvStatus, InstanceStatus, ServiceStatus } from "./engine/status.js";

export type { Confirmer, DeployOptions } from "./engine/deploy.js";

export type { HistoryEntry, HistoryEvent } from "./engine/history.js";

export class Slipway {
  constructor(
    private readonly deps: EngineDeps,
    /** Alerts: the per-environment notifiers (the `alerts` and `silence` operations). */
    readonly notify?: NotifierHub,
    /** Standing rules' states (the `rules` operation). */
    readonly rules?: RuleWatcher,
  ) {}

  /**
   * The same API acting for `actor`, the person whose CLI sent the operation: revisions, locks and
   * confirmations then name them rather than the daemon's own user (kept when none was sent).
   */
  actingFor(actor: string | undefined): Slipway {
    if (!actor || actor === this.deps.actor) return this;
    return new Slipway({ ...this.deps, actor }, this.notify, this.rules);
  }

  /**
   * The spec of what is deployed (current revision's snapshot, re-hydrated from its env files
   * and the `secrets` an earlier operation brought), for operations that sent only a light
   * reference (read-only ones, and an operator's backup or rollback: the spec body is not theirs).
   */
  async deployedResolution(
    ref: ResolvedSpec,
    secrets?: Iterable<readonly [string, string]>,
    /** To run (a backup): a services' variable without a value refuses it (MissingVariables), never "". */
    strict = false,
  ): Promise<Resolution> {
    const current = await this.deps.store.currentRevision(ref.project, ref.env);
    const latest = (await this.deps.store.listRevisions(ref.project, ref.env, { limit: 1 }))[0];
    const rev = current ?? latest;
    // Strict about the services' variables only: an alert channel's URL is not the backup's.
    const services = rev ? Object.keys(snapshotOf(rev).services) : [];
    const values = rev && (strict ? restartableSpec(rev, services, secrets) : readableSpec(rev, secrets));
    const spec = values ? { ...values, target: ref.target } : ref;
    return { spec, snapshot: snapshotOf(rev) ?? ref, secrets: new Map(), vars: {} };
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
    const r = await checkRunner(
      this.deps,
      resolution,
      opts.confirm,
      opts.confirmer,
    )(resolution.spec, opts.emit ?? noopSink, opts.signal);
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

  async plan(resolution: Resolution, opts: PlanOptions = {}): Promise<Plan> {
    return (await planDeploy(this.deps, resolution, opts)).plan;
  }

  /** `slipway plan ENV --out FILE`: the plan with its Terraform plan files, sealed (engine/deploy-saved.ts). */
  savePlan(resolution: Resolution, opts: SavedOptions = {}): Promise<SavedPlan> {
    return savePlan(this.deps, resolution, opts, planDeploy);
  }

  /** `slipway deploy`: plan, pre-flight checks, run (engine/deploy.ts). */
  deploy(
    resolution: Resolution,
    opts: DeployOptions = {},
  ): Promise<DeployResult | { dryRun: true; plan: Plan }> {
    return deploy(this.deps, resolution, opts);
  }

  /** `slipway rollback`: an earlier revision as a new one, the data too with --with-db (engine/rollback.ts). */
  rollback(
    resolution: Resolution,
    opts: RollbackOptions = {},
  ): Promise<DeployResult | { dryRun: true; plan: Plan }> {
    return rollback(this.deps, resolution, opts);
  }

  /** `slipway restart`: a rolling restart of the current revision (engine/restart.ts). */
  restart(
    resolution: Resolution,
    opts: RestartOptions = {},
  ): Promise<DeployResult | { dryRun: true; plan: Plan }> {
    return restart(this.deps, resolution, opts);
  }

  /** `slipway scale ENV SVC N`: more or fewer instances, no new revision (engine/scale.ts). */
  scale(
    resolution: Resolution,
    service: string,
    replicas: number,
    opts: ScaleOptions = {},
  ): Promise<ScaleResult> {
    return scale(this.deps, resolution, service, replicas, opts);
  }

  /** `slipway secrets ENV`: names, sources and ages of the secrets — never values (engine/secrets.ts). */
  secrets(resolution: Resolution): Promise<SecretListing> {
    return listSecrets(this.deps, resolution);
  }

  /**
   * Secret ages for a scheduled `secretAge` check: the values the latest operation brought, else
   * what was recorded when they were last seen.
   */
  secretAges(spec: ResolvedSpec, latest?: Resolution): SecretAges {
    return secretAgesFor(this.deps, latest ?? { spec, snapshot: spec, secrets: new Map(), vars: {} });
  }

  /**
   * Housekeeping the daemon runs every few seconds: stop warm instances whose window is over,
   * replace dead ones. Skipped while an operation holds the environment's lock.
   */
  maintain(project: string, env: string, latest?: Resolution): Promise<string[]> {
    return maintain(this.deps, project, env, latest, (e) => this.publish(project, env, e));
  }

  /** A scheduled health sweep (`run: health`); skipped (undefined) while an operation holds the lock. */
  sweepHealth(project: string, env: string, opts: SweepOptions): Promise<SweepReport | undefined> {
    return sweepHealthUnlocked(this.deps, project, env, opts, (e) => this.publish(project, env, e));
  }

  /** Recover an interrupted operation (a stale lock, a revision left in progress). */
  recover(project: string, env: string, emit?: EventSink): Promise<RecoveryReport | undefined> {
    // With no operation to report to (the daemon's start), the outcome still reaches the alerts.
    return recover(this.deps, project, env, emit ?? ((e) => this.publish(project, env, e)));
  }

  status(spec: ResolvedSpec, opts: { probe?: boolean } = {}): Promise<EnvStatus> {
    return envStatus(this.deps, spec, opts);
  }

  history(
    project: string,
    env: string,
    opts: { revision?: number; limit?: number } = {},
  ): Promise<HistoryEntry[]> {
    return history(this.deps, project, env, opts);
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

  /** `slipway exec ENV SVC -- CMD`: a command inside a running instance (engine/instance-commands.ts). */
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

  /**
   * `slipway rules ENV`: the environment's standing rules and their states — live from the
   * daemon that evaluates them, else as last saved (`evaluated: false`).
   */
  async ruleStates(spec: ResolvedSpec): Promise<{ evaluated: boolean; rules: RuleStatus[] }> {
    const saved = this.rules
      ? await this.rules.states(spec.project, spec.env)
      : { evaluated: false, rules: [] };
    const now = Date.now();
    const rules = (spec.rules ?? []).map((r) =>
      carryStatus(
        saved.rules.find((s) => s.name === r.name),
        r,
        now,
      ),
    );
    return { evaluated: saved.evaluated, rules };
  }

  /** `slipway run ENV NAME`: a runbook's steps, its report kept in history (engine/runbook/run.ts). */
  runbook(resolution: Resolution, name: string, opts: RunbookOptions = {}): Promise<RunbookReport> {
    return runRunbook(this.deps, resolution, name, opts);
  }

  /** `slipway runs ENV [RUNBOOK]`: the reports of earlier runbook runs, newest first (from the events). */
  async runbookRuns(
    spec: ResolvedSpec,
    opts: { name?: string; limit?: number } = {},
  ): Promise<{ runs: RunbookReport[] }> {
    const events = await this.deps.store.listEvents(spec.project, spec.env, { limit: 2000 });
    const runs = events
      .filter((e) => e.kind === "runbook.report")
      .map((e) => (e.data as { report?: RunbookReport } | undefined)?.report)
      .filter((r): r is RunbookReport => !!r && (!opts.name || r.runbook === opts.name))
      .reverse();
    return { runs: runs.slice(0, opts.limit ?? 20) };
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
    return locked(this.deps, spec, "stop", emit, () => stopAll(this.deps, spec, opts.service, emit));
  }

  async destroy(
    resolution: Resolution,
    opts: {
      yes?: boolean;
      protection?: Omit<Confirmation, "yes" | "overrideFreeze">;
      /** Kubernetes: also delete the target's namespace (never deleted otherwise). */
      deleteNamespace?: boolean;
      emit?: EventSink;
    } = {},
  ): Promise<{ stopped: string[]; removed?: string[] }> {
    const spec = resolution.spec;
    if (opts.deleteNamespace && spec.target.kind !== "kubernetes")
      throw new UsageError(
        `--delete-namespace is for Kubernetes targets; ${spec.env} runs on ${spec.target.kind}`,
      );
    const emit = opts.emit ?? noopSink;
    const guard = protect(
      spec,
      "destroy",
      { ...opts.protection, yes: opts.yes, kubeContext: this.deps.kubeContext?.() },
      this.deps.actor,
    );
    return locked(this.deps, spec, "destroy", emit, () => {
      const recorded = protectionEvent(spec, guard, false);
      if (recorded) emit(recorded);
      return destroyEnvironment(this.deps, spec, emit, { deleteNamespace: opts.deleteNamespace });
    });
  }

  /** `slipway prune ENV`: drop release artifacts beyond `retain` (or `keep`) earlier releases. */
  async prune(
    resolution: Resolution,
    opts: { keep?: number; emit?: EventSink } = {},
  ): Promise<{ revision?: number }> {
    const spec = resolution.spec;
    return locked(this.deps, spec, "prune", opts.emit ?? noopSink, async () => {
      const current = await this.deps.store.currentRevision(spec.project, spec.env);
      if (!current) return {};
      const deployed = readableSpec(current);
      await pruneArtifacts(this.deps, deployed, current.number, opts.keep);
      return { revision: current.number };
    });
  }

  /**
   * `slipway lock ENV --release`: clear a lock whose holder is gone. A holder alive on this host
   * is mid-operation, so it is refused. What a dead holder left half done is recovered from the
   * journal first, so the next operation never starts from a half state.
   */
  releaseLock(
    project: string,
    env: string,
    emit: EventSink = noopSink,
  ): Promise<{ released: boolean; holder?: LockInfo; recovery?: RecoveryReport }> {
    return releaseLock(this.deps, project, env, emit);
  }

  async getLock(project: string, env: string): Promise<LockInfo | undefined> {
    return this.deps.store.getLock(project, env);
  }
}
