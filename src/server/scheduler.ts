/**
 * The daemon's scheduler (croner): per deployed environment, the services' `backup.schedule` and
 * `backup.verify` cron expressions and the spec's `schedules:` entries with `run: backup` or
 * `run: backup-verify`. Each scheduled backup is followed by a prune with the service's retention;
 * failures raise `{type:"alert", kind:"backup.failed", severity:"critical"}` through the engine, and
 * a later successful backup (or verify) of the service sends `backup.succeeded`, which resolves it.
 *
 * The spec (with its secrets) is the latest one an operation brought for the environment, kept in
 * memory only. A daemon restarted before any operation rehydrates the stored snapshot of the
 * deployed revision from its own environment (the daemon's variables stand in for the secrets).
 *
 * Other kinds of `schedules:` entries (health, check) are handed to handlers registered with
 * `handle()`; without one they are skipped. An environment whose checklist has `tls` checks and
 * no `run: check` schedule gets a default job that runs them once when it is created and daily
 * after (`tls-expiry`, DAILY_TLS_CRON): a certificate must not expire because nobody deployed.
 */
import { Cron } from "croner";
import { errorMessage } from "../core.js";
import {
  backupAlert,
  backupConfigOf,
  backupsInUseBy,
  configFor,
  retentionOf,
  withBackups,
  specOrMissing,
  type MissingVariables,
  type EngineEvent,
  type Logger,
  type Resolution,
  type ResolvedService,
  type ResolvedSpec,
  type Store,
} from "../index.js";

import {
  DAILY_TLS_CRON,
  TLS_JOB,
  jobsOf,
  type JobInfo,
  type JobKind,
  type PlannedJob,
  type ScheduleEntry,
} from "./scheduled-jobs.js";

// The jobs' definitions live in scheduled-jobs.ts; their users import them from here.
export { DAILY_TLS_CRON, TLS_JOB, jobsOf, type JobInfo, type JobKind, type ScheduleEntry };

/** The backup manager withBackups lends (the server reaches the engine through index.ts only). */
type BackupManager = Parameters<Parameters<typeof withBackups>[1]>[0];

export interface SchedulerOptions {
  home: string;
  store: Store;
  logger: Logger;
  /** The latest resolution an operation brought for an environment (Runtime.latest). */
  latest: (project: string, env: string) => Resolution | undefined;
  /** Raise an event through the engine: alerts reach the store timeline and the notifier. */
  publish: (spec: ResolvedSpec, e: EngineEvent) => void;
  /** How often the deployed environments are re-read (default 15 s). */
  syncEveryMs?: number;
  /** The engine's event bus (Runtime.subscribe): a deploy or rollback re-reads the environments at once. */
  subscribe?: (fn: (project: string, env: string, e: EngineEvent) => void) => () => void;
  /** Called after every re-read with the deployed environments' specs (the standing rules follow them). */
  onSync?: (specs: ResolvedSpec[]) => void;
}

/** A handler for a `schedules:` kind this file does not run itself (health sweeps, checks). */
export type JobHandler = (spec: ResolvedSpec, entry: ScheduleEntry) => Promise<void>;

interface Job extends PlannedJob {
  cronJob: Cron;
  next?: string;
}

/** `schedules:` kinds run by a registered handler. */
type HandledKind = "health" | "check" | "runbook";
const handled = (run: JobKind): run is HandledKind =>
  run === "health" || run === "check" || run === "runbook";

const envKey = (project: string, env: string) => `${project}\u0000${env}`;

export class Scheduler {
  private readonly jobsByKey = new Map<string, Job>();
  private readonly handlers = new Map<string, JobHandler>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Environments whose deployed revision lacks values (none brought by an operation since start). */
  private readonly missing = new Map<string, MissingVariables>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: SchedulerOptions) {}

  /** Run `schedules:` entries of this kind with `fn` (e.g. run: health). */
  handle(kind: HandledKind, fn: JobHandler): void {
    this.handlers.set(kind, fn);
  }

  /** Mark backups left running by a dead process failed, read the environments, re-read them periodically. */
  async start(): Promise<void> {
    try {
      const interrupted = await withBackups(this.opts, async (b) => b.markInterrupted());
      for (const r of interrupted)
        this.opts.logger.warn(`backup ${r.id} of ${r.service} was interrupted; marked failed`);
    } catch (e) {
      this.opts.logger.error(`backup catalog: ${errorMessage(e)}`);
    }
    await this.sync();
    this.unsubscribe = this.opts.subscribe?.((_p, _e, ev) => {
      if (ev.type === "alert" && ev.kind.startsWith("deploy.")) void this.sync();
    });
    this.timer = setInterval(() => void this.sync(), this.opts.syncEveryMs ?? 15_000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    for (const j of this.jobsByKey.values()) j.cronJob.stop();
    this.jobsByKey.clear();
  }

  jobs(): JobInfo[] {
    return [...this.jobsByKey.values()].map((j) => ({
      project: j.project,
      env: j.env,
      name: j.name,
      cron: j.cron,
      run: j.run,
      services: j.services,
      next: j.cronJob.nextRun()?.toISOString(),
    }));
  }

  /** Run a job now (the cron would run the same). */
  async trigger(project: string, env: string, name: string): Promise<void> {
    const job = this.jobsByKey.get(`${envKey(project, env)}\u0000${name}`);
    if (!job) throw new Error(`no scheduled job "${name}" for ${project}/${env}`);
    await this.execute(job);
  }

  /** Re-read the deployed environments and (re)create the jobs whose definition changed. */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.syncing ??= this.doSync()
      .catch((e) => this.opts.logger.error(`scheduler: ${errorMessage(e)}`))
      .finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    const envs = new Map<string, { project: string; env: string }>();
    for (const i of await this.opts.store.allInstances())
      envs.set(envKey(i.project, i.env), { project: i.project, env: i.env });
    const wanted = new Map<string, Omit<Job, "cronJob" | "next">>();
    const specs: ResolvedSpec[] = [];
    for (const { project, env } of envs.values()) {
      const spec = await this.specFor(project, env);
      if (!spec) continue;
      specs.push(spec);
      for (const j of jobsOf(spec)) wanted.set(`${envKey(project, env)}\u0000${j.name}`, j);
    }
    if (this.stopped) return;
    this.opts.onSync?.(specs);
    for (const [key, job] of this.jobsByKey) {
      const w = wanted.get(key);
      if (!w || w.signature !== job.signature) {
        job.cronJob.stop();
        this.jobsByKey.delete(key);
      } else job.spec = w.spec; // fresher secrets, same schedule
    }
    for (const [key, w] of wanted) {
      if (this.jobsByKey.has(key)) continue;
      if (handled(w.run) && !this.handlers.has(w.run)) continue;
      let cronJob: Cron;
      try {
        cronJob = new Cron(w.cron, { protect: true, unref: true, catch: true }, async () => {
          const job = this.jobsByKey.get(key);
          if (job) await this.execute(job);
        });
      } catch (e) {
        this.opts.logger.error(`schedule "${w.name}" of ${w.project}/${w.env}: ${errorMessage(e)}`);
        continue;
      }
      const job: Job = { ...w, cronJob };
      this.jobsByKey.set(key, job);
      if (w.runAtStart) void this.execute(job);
      this.opts.logger.info(`scheduled ${w.run} "${w.name}" for ${w.project}/${w.env}`, {
        cron: w.cron,
        next: cronJob.nextRun()?.toISOString(),
      });
    }
  }

  /** The latest operation's spec, else the deployed snapshot and its env files (never process.env). */
  private async specFor(project: string, env: string): Promise<ResolvedSpec | undefined> {
    const current = await this.opts.store.currentRevision(project, env);
    if (!current) return undefined;
    this.missing.delete(envKey(project, env));
    const latest = this.opts.latest(project, env);
    if (latest) return latest.spec;
    const { spec, missing } = specOrMissing(current);
    if (missing) this.missing.set(envKey(project, env), missing); // jobs stay listed; runJob refuses
    return spec;
  }

  private alert(
    spec: ResolvedSpec,
    service: string | undefined,
    message: string,
    data: Record<string, unknown>,
  ) {
    this.opts.logger.error(message, data);
    this.opts.publish(spec, {
      type: "alert",
      kind: "backup.failed",
      severity: "critical",
      ...(service ? { service } : {}),
      message,
      data,
    });
  }

  /** Whether some backup job of this environment takes backups of the service. */
  private backupScheduled(spec: ResolvedSpec, svc: ResolvedService): boolean {
    return jobsOf(spec).some((j) => j.run === "backup" && j.services.includes(svc.name));
  }

  /**
   * Jobs of one environment run one at a time: a verify must not read a backup that the prune
   * after a concurrent backup is deleting.
   */
  private execute(job: Job): Promise<void> {
    const k = envKey(job.project, job.env);
    const next = (this.queues.get(k) ?? Promise.resolve())
      .then(() => this.runJob(job))
      .catch((e) => this.opts.logger.error(`scheduled ${job.name} failed: ${errorMessage(e)}`));
    this.queues.set(k, next);
    void next.finally(() => {
      if (this.queues.get(k) === next) this.queues.delete(k);
    });
    return next;
  }

  private async runJob(job: Job): Promise<void> {
    if (this.stopped) return;
    const spec = job.spec;
    // Only while the environment is still deployed.
    if (!(await this.opts.store.currentRevision(job.project, job.env))) return;
    const missing = this.missing.get(envKey(job.project, job.env));
    const refused =
      missing && `${spec.project} ${spec.env}: scheduled ${job.name} refused: ${missing.message}`;
    if (refused) return this.alert(spec, undefined, refused, { job: job.name, missing: missing.variables });
    if (handled(job.run)) {
      const h = this.handlers.get(job.run);
      if (h && job.entry) await h(spec, job.entry);
      return;
    }
    const services = job.services
      .map((n) => spec.services[n])
      .filter((s): s is ResolvedService => !!s?.backup);
    await withBackups(this.opts, async (b) => {
      for (const svc of services) {
        if (job.run === "backup") await this.backupService(b, job, svc);
        else await this.verifyService(b, job, svc);
      }
    });
  }

  /** A scheduled backup of one service, then its retention. */
  private async backupService(b: BackupManager, job: Job, svc: ResolvedService): Promise<void> {
    const spec = job.spec;
    try {
      const rec = await b.backup({
        project: spec.project,
        env: spec.env,
        service: svc.name,
        config: backupConfigOf(svc),
        baseDir: spec.dir,
      });
      this.opts.logger.info(`scheduled backup ${rec.id} of ${spec.project}/${spec.env}/${svc.name}`, {
        job: job.name,
        bytes: rec.size,
      });
      this.opts.publish(
        spec,
        backupAlert(spec, svc.name, { ok: true, id: rec.id, how: `scheduled (${job.name})` }),
      );
    } catch (e) {
      this.alert(
        spec,
        svc.name,
        `${spec.project} ${spec.env}: scheduled backup of ${svc.name} failed (${job.name}): ${errorMessage(e)}`,
        { job: job.name, cron: job.cron },
      );
      return;
    }
    try {
      // Backups a rollback --with-db may still restore are kept whatever the retention.
      const inUse = await backupsInUseBy(this.opts, spec);
      const gone = await b.prune(spec.project, spec.env, svc.name, retentionOf(svc, inUse));
      if (gone.length)
        this.opts.logger.info(`pruned ${gone.length} backup(s) of ${svc.name}`, {
          ids: gone.map((r) => r.id),
        });
    } catch (e) {
      this.opts.logger.warn(`prune of ${svc.name} failed: ${errorMessage(e)}`);
    }
  }

  /** backup-verify: the newest successful backup of the service. */
  private async verifyService(b: BackupManager, job: Job, svc: ResolvedService): Promise<void> {
    const spec = job.spec;
    const newest = await b.latest(spec.project, spec.env, svc.name);
    if (!newest && this.backupScheduled(spec, svc)) {
      // Its backup job has not fired yet (a fresh deploy), or its failures already raised
      // backup.failed: an alert here would say the same thing twice.
      this.opts.logger.info(`no backup of ${svc.name} to verify yet (${job.name})`);
      return;
    }
    if (!newest) {
      this.alert(
        spec,
        svc.name,
        `${spec.project} ${spec.env}: no backup of ${svc.name} to verify (${job.name})`,
        {
          job: job.name,
        },
      );
      return;
    }
    try {
      const config = configFor(spec, newest);
      const rec = await b.verify(newest.id, config ? { config } : {});
      if (rec.status !== "verified")
        this.alert(
          spec,
          svc.name,
          `${spec.project} ${spec.env}: backup ${rec.id} of ${svc.name} failed verification: ${rec.verifyDetail ?? rec.error}`,
          { job: job.name, id: rec.id },
        );
      else {
        this.opts.logger.info(`verified backup ${rec.id}`, { detail: rec.verifyDetail });
        // A verified backup of the service ends an open backup.failed (its verify failure included).
        this.opts.publish(
          spec,
          backupAlert(spec, svc.name, { ok: true, id: rec.id, how: `verified (${job.name})` }),
        );
      }
    } catch (e) {
      this.alert(
        spec,
        svc.name,
        `${spec.project} ${spec.env}: verify of ${newest.id} (${svc.name}) could not run: ${errorMessage(e)}`,
        { job: job.name, id: newest.id },
      );
    }
  }
}
