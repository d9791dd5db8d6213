/**
 * Data-aware operations (issue 7): the backup step of a deploy, `slipway backup|backups|restore|
 * migrate`, and the data half of `slipway rollback --with-db`. The backup library (src/backup/)
 * does the work; this file decides what to back up, restore or migrate, with which credentials,
 * and records it in the revisions.
 *
 * The catalog is part of the store (store/records.ts), SQLite or PostgreSQL alike.
 */
import { mkdirSync } from "node:fs";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import type { BackupConfig, BackupManager, BackupRecord, Retention } from "../backup/index.js";
import { errorMessage, OperationFailed, Refused, UsageError } from "../errors.js";
import { redact } from "../health/redact.js";
import type { Logger } from "../logger.js";
import type { Resolution } from "../spec/resolve.js";
import { rehydrate } from "../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { Revision, Store } from "../store/store.js";
import type { Instance } from "../drivers/driver.js";
import type { EngineDeps } from "./context.js";
import { acquireLock } from "./lock.js";
import { isWarm } from "./warm.js";
import type { EngineEvent, EventSink } from "./events.js";
import { noopSink } from "./events.js";

export type { BackupRecord };

/**
 * Run `fn` with a BackupManager whose catalog is the store's (SQLite or PostgreSQL alike: the
 * daemon's scheduler and a deploy may back up at once).
 */
export async function withBackups<T>(
  deps: { home: string; logger: Logger; store: Store },
  fn: (backups: BackupManager) => Promise<T>,
): Promise<T> {
  mkdirSync(join(deps.home, "backups"), { recursive: true, mode: 0o700 });
  // Loaded on first use: a deploy without backups does not pay for the providers.
  const { BackupManager } = await import("../backup/index.js");
  return fn(new BackupManager({ store: deps.store, home: deps.home, logger: deps.logger }));
}

/** The resolved `backup:` block as the library's config (the URL keeps its password: never logged). */
export function backupConfigOf(svc: ResolvedService): BackupConfig & { verify?: true | string } {
  const b = svc.backup;
  if (!b) throw new UsageError(`service "${svc.name}" has no backup block`);
  return {
    type: b.type,
    ...(b.url !== undefined ? { url: b.url } : {}),
    ...(b.paths ? { paths: [...b.paths] } : {}),
    ...(b.volumes ? { volumes: [...b.volumes] } : {}),
    ...(b.verify !== undefined ? { verify: b.verify } : {}),
  };
}

export function retentionOf(svc: ResolvedService, protect?: ReadonlySet<string>): Retention {
  const r = svc.backup?.retention;
  return {
    ...(r?.keepLast !== undefined ? { keepLast: r.keepLast } : {}),
    maxAge: r?.maxAge,
    ...(protect ? { protect } : {}),
  };
}

/**
 * The backups a `rollback --with-db` may still restore, which retention must keep: those
 * recorded by every revision after the oldest one that can still be rolled back to — the
 * deployed revision and the `retain` earlier releases whose artifacts are kept (pruneArtifacts;
 * the largest `retain` of the spec, so no service's target is missed).
 */
export function backupsInUse(revisions: Revision[], retain: number): Set<string> {
  const targets = revisions
    .filter((r) => r.status === "deployed" || r.status === "superseded" || r.status === "rolled-back")
    .sort((a, b) => b.number - a.number)
    .slice(0, retain + 1);
  const oldest = targets[targets.length - 1];
  const out = new Set<string>();
  if (!oldest) return out;
  for (const r of revisions) {
    if (r.number <= oldest.number) continue;
    for (const id of Object.values((r.facts.backups ?? {}) as Record<string, string>)) out.add(id);
    if (typeof r.facts.releaseBackup === "string") out.add(r.facts.releaseBackup);
  }
  return out;
}

/** backupsInUse for an environment, from the store (the same 200 revisions a rollback reads). */
export async function backupsInUseBy(
  deps: Pick<EngineDeps, "store">,
  spec: ResolvedSpec,
): Promise<Set<string>> {
  const revs = await deps.store.listRevisions(spec.project, spec.env, { limit: 200 });
  const retain = Math.max(0, ...Object.values(spec.services).map((s) => s.retain));
  return backupsInUse(revs, retain);
}

/** Services of the spec with a backup block (all, or the one named; a wrong name is a usage error). */
export function backedUpServices(spec: ResolvedSpec, service?: string): ResolvedService[] {
  const all = Object.values(spec.services).filter((s) => s.backup);
  if (service === undefined) return all;
  const svc = spec.services[service];
  if (!svc)
    throw new UsageError(
      `no service "${service}" in ${spec.env} (services: ${Object.keys(spec.services).join(", ")})`,
    );
  if (!svc.backup)
    throw new UsageError(
      `service "${service}" has no backup block (services.${service}.backup)${all.length ? `; services with one: ${all.map((s) => s.name).join(", ")}` : ""}`,
    );
  return [svc];
}

import { formatBytes } from "../util/units.js";
export { formatBytes };

/** The service release snapshots are catalogued under (BackupManager.backupRelease). */
export const RELEASE_SERVICE = "_release";

/**
 * The deploy's "record release" step: the release being replaced — its resolved spec as stored
 * (secrets as ${VAR} templates) and what each service runs (image or release directory) — as a
 * release backup, so what ran before the deploy is on record beside the data backups. Release
 * snapshots older than the default retention (30 days) go, unless a rollback target needs them.
 */
export async function backupCurrentRelease(
  deps: EngineDeps,
  spec: ResolvedSpec,
  current: Revision,
  live: Instance[],
): Promise<{ id: string; message: string }> {
  const services = Object.keys((current.snapshot as ResolvedSpec).services ?? {});
  const images: Record<string, string> = {};
  for (const name of services) {
    const running = live.find((i) => i.service === name && !isWarm(i) && i.artifact);
    const artRev = (current.facts.artifacts as Record<string, number> | undefined)?.[name] ?? current.number;
    images[name] = running?.artifact ?? `release r${artRev} (not running)`;
  }
  const inUse = await backupsInUseBy(deps, spec);
  const rec = await withBackups(deps, async (b) => {
    const r = await b.backupRelease({
      project: spec.project,
      env: spec.env,
      revision: current.number,
      spec: current.snapshot,
      images,
    });
    await b.prune(spec.project, spec.env, RELEASE_SERVICE, { protect: inUse }).catch((e: unknown) => {
      deps.logger.warn(`prune of release snapshots failed: ${errorMessage(e)}`);
    });
    return r;
  });
  return {
    id: rec.id,
    message: `${rec.id} (release r${current.number}: ${services.length} service${services.length === 1 ? "" : "s"})`,
  };
}

/**
 * The alert of one service's backup: `backup.failed` (critical) stays open until a later backup
 * of the service succeeds and sends `backup.succeeded` (routing.ts RESOLVES). Scheduled,
 * manual and deploy-time backups all raise them.
 */
export function backupAlert(
  spec: ResolvedSpec,
  service: string,
  outcome: { ok: true; id: string; how: string } | { ok: false; error: string; how: string },
): Extract<EngineEvent, { type: "alert" }> {
  const where = `${spec.project} ${spec.env}`;
  return outcome.ok
    ? {
        type: "alert",
        kind: "backup.succeeded",
        severity: "info",
        service,
        message: `${where}: ${outcome.how} backup of ${service} succeeded (${outcome.id})`,
        data: { id: outcome.id, how: outcome.how },
      }
    : {
        type: "alert",
        kind: "backup.failed",
        severity: "critical",
        service,
        message: `${where}: ${outcome.how} backup of ${service} failed: ${outcome.error}`,
        data: { how: outcome.how },
      };
}

/** The deploy's "backup" step: back up one running service before anything changes. */
export async function backupBeforeDeploy(
  deps: EngineDeps,
  spec: ResolvedSpec,
  svc: ResolvedService,
  revision: number,
  emit: EventSink = noopSink,
): Promise<{ id: string; message: string }> {
  const rec = await withBackups(deps, (b) =>
    b.backup({
      project: spec.project,
      env: spec.env,
      service: svc.name,
      revision,
      config: backupConfigOf(svc),
      baseDir: spec.dir,
    }),
  ).catch((e: unknown) => {
    emit(
      backupAlert(spec, svc.name, {
        ok: false,
        error: errorMessage(e),
        how: `pre-deploy (revision ${revision})`,
      }),
    );
    throw e;
  });
  emit(backupAlert(spec, svc.name, { ok: true, id: rec.id, how: `pre-deploy (revision ${revision})` }));
  return {
    id: rec.id,
    message: `${rec.id} (${formatBytes(rec.size)}${rec.status === "verified" ? ", verified" : ""})`,
  };
}

/**
 * The config to restore or verify a record with: the spec's block for its service (it carries the
 * credentials the catalog does not keep), or undefined to use the one recorded.
 */
export function configFor(spec: ResolvedSpec | undefined, rec: BackupRecord): BackupConfig | undefined {
  if (!spec) return undefined;
  const svc = spec.services[rec.service];
  if (!svc?.backup) return undefined;
  const type = svc.backup.type === "mariadb" ? "mysql" : svc.backup.type;
  if (type !== rec.type) return undefined;
  const { verify: _verify, ...config } = backupConfigOf(svc);
  if (config.paths) config.paths = config.paths.map((p) => (isAbsolute(p) ? p : resolvePath(spec.dir, p)));
  return config;
}

async function requireBackup(b: BackupManager, spec: ResolvedSpec, id: string): Promise<BackupRecord> {
  const rec = await b.get(id);
  if (!rec) throw new UsageError(`no backup with id "${id}" (slipway backups ${spec.env} lists them)`);
  if (rec.project !== spec.project || rec.env !== spec.env)
    throw new UsageError(
      `backup ${id} belongs to ${rec.project}/${rec.env}, not ${spec.project}/${spec.env} (slipway backups ${rec.env} lists it)`,
    );
  return rec;
}

async function withLock<T>(deps: EngineDeps, spec: ResolvedSpec, operation: string, fn: () => Promise<T>) {
  const lock = await acquireLock(deps.store, spec.project, spec.env, deps.actor, operation);
  try {
    return await fn();
  } finally {
    await deps.store.releaseLock(spec.project, spec.env, lock.holder);
  }
}

// ---------------------------------------------------------------------------------------------
// backup / backups / backup verify / backups prune / restore

export async function takeBackups(
  deps: EngineDeps,
  spec: ResolvedSpec,
  opts: { service?: string; emit?: EventSink } = {},
): Promise<{ backups: BackupRecord[] }> {
  const emit = opts.emit ?? noopSink;
  const services = backedUpServices(spec, opts.service);
  if (!services.length)
    throw new UsageError(`no service of ${spec.env} has a backup block (services.<name>.backup)`);
  const out: BackupRecord[] = [];
  const failures: string[] = [];
  await withBackups(deps, async (b) => {
    for (const svc of services) {
      emit({ type: "log", level: "info", service: svc.name, message: `backing up ${svc.name}…` });
      try {
        const rec = await b.backup({
          project: spec.project,
          env: spec.env,
          service: svc.name,
          config: backupConfigOf(svc),
          baseDir: spec.dir,
        });
        out.push(rec);
        emit({
          type: "log",
          level: "info",
          service: svc.name,
          message: `✔ ${svc.name}: ${rec.id} ${formatBytes(rec.size)}${rec.status === "verified" ? " (verified)" : ""}`,
        });
        emit(backupAlert(spec, svc.name, { ok: true, id: rec.id, how: "manual" }));
      } catch (e) {
        const failed = (await b.list(spec.project, spec.env, svc.name))[0];
        if (failed) out.push(failed);
        failures.push(`${svc.name}: ${errorMessage(e)}`);
        emit({
          type: "log",
          level: "error",
          service: svc.name,
          message: `✖ ${svc.name}: ${errorMessage(e)}`,
        });
        emit(backupAlert(spec, svc.name, { ok: false, error: errorMessage(e), how: "manual" }));
      }
    }
  });
  if (failures.length) {
    const err = new OperationFailed(`backup failed: ${failures.join("; ")}`);
    err.details = { backups: out };
    throw err;
  }
  return { backups: out };
}

export async function listBackups(
  deps: EngineDeps,
  spec: ResolvedSpec,
  service?: string,
): Promise<{ backups: BackupRecord[] }> {
  return withBackups(deps, async (b) => ({ backups: await b.list(spec.project, spec.env, service) }));
}

export async function verifyBackup(
  deps: EngineDeps,
  spec: ResolvedSpec,
  id: string,
): Promise<{ backup: BackupRecord }> {
  return withBackups(deps, async (b) => {
    const rec = await requireBackup(b, spec, id);
    const config = configFor(spec, rec);
    const checked = await b.verify(id, config ? { config } : {});
    if (checked.status !== "verified") {
      const err = new OperationFailed(
        `backup ${id} failed verification: ${checked.verifyDetail ?? checked.error}`,
      );
      err.details = { backup: checked };
      throw err;
    }
    return { backup: checked };
  });
}

export async function pruneBackups(
  deps: EngineDeps,
  spec: ResolvedSpec,
  emit: EventSink = noopSink,
): Promise<{ removed: { service: string; ids: string[] }[] }> {
  const services = backedUpServices(spec);
  const inUse = await backupsInUseBy(deps, spec);
  return withBackups(deps, async (b) => {
    const removed: { service: string; ids: string[] }[] = [];
    for (const svc of services) {
      const gone = await b.prune(spec.project, spec.env, svc.name, retentionOf(svc, inUse));
      removed.push({ service: svc.name, ids: gone.map((r) => r.id) });
      if (gone.length)
        emit({
          type: "log",
          level: "info",
          service: svc.name,
          message: `${svc.name}: pruned ${gone.length}`,
        });
    }
    // Release snapshots (deploys record the release they replace): the default retention.
    if ((await b.list(spec.project, spec.env, RELEASE_SERVICE)).length) {
      const gone = await b.prune(spec.project, spec.env, RELEASE_SERVICE, { protect: inUse });
      removed.push({ service: RELEASE_SERVICE, ids: gone.map((r) => r.id) });
    }
    return { removed };
  });
}

/** Why a restore without --yes is refused (the CLI asks at a terminal and then sends yes). */
export function restoreRefusal(spec: ResolvedSpec, id: string, service?: string): string {
  if (spec.protect?.confirm)
    return `environment "${spec.env}" is protected: restore needs --yes (nothing was changed)`;
  return `restoring ${id} replaces the live data${service ? ` of ${service}` : ""} in ${spec.env}: confirm at a terminal or pass --yes (nothing was changed)`;
}

export async function restoreBackup(
  deps: EngineDeps,
  spec: ResolvedSpec,
  id: string,
  opts: { yes?: boolean; emit?: EventSink; force?: boolean } = {},
): Promise<{ backup: BackupRecord }> {
  const emit = opts.emit ?? noopSink;
  // A protected environment refuses before anything is looked up.
  if (!opts.yes && spec.protect?.confirm) throw new Refused(restoreRefusal(spec, id));
  return withBackups(deps, async (b) => {
    const rec = await requireBackup(b, spec, id);
    if (rec.type === "release")
      throw new UsageError(`backup ${id} is a release snapshot; roll back to its revision instead`);
    if (!opts.yes) throw new Refused(restoreRefusal(spec, id, rec.service));
    return withLock(deps, spec, "restore", async () => {
      emit({
        type: "log",
        level: "info",
        service: rec.service,
        message: `restoring ${rec.service} from ${id}…`,
      });
      const config = configFor(spec, rec);
      await b.restore(id, { ...(config ? { config } : {}), force: opts.force });
      const alert: EngineEvent = {
        type: "alert",
        kind: "backup.restored",
        severity: "warning",
        service: rec.service,
        message: `${spec.project} ${spec.env}: ${rec.service} restored from backup ${id} (taken ${rec.startedAt})`,
        data: { id },
      };
      emit(alert);
      return { backup: rec };
    });
  });
}

// ---------------------------------------------------------------------------------------------
// migrations

export type MigrateAction = "up" | "down" | "status";

export interface MigrationResult {
  service: string;
  action: MigrateAction;
  revision: number;
  version: string;
  command: string;
  exitCode: number;
  output: string;
}

function secretValues(resolution: Resolution): string[] {
  return [...resolution.secrets.values()];
}

/** A revision's spec with the secrets of the current resolution (and the process environment). */
function specOf(rev: Revision, resolution: Resolution): ResolvedSpec {
  return rehydrate(rev.snapshot as ResolvedSpec, {
    ...process.env,
    ...Object.fromEntries(resolution.secrets),
  });
}

/** Run a migration command as a one-off instance of a revision's release. */
async function runMigration(
  deps: EngineDeps,
  resolution: Resolution,
  rev: Revision,
  svc: ResolvedService,
  action: MigrateAction,
  opts: { to?: string; signal?: AbortSignal },
): Promise<MigrationResult> {
  const command = svc.migrate?.[action];
  if (!command) throw new UsageError(`service "${svc.name}" declares no migrate.${action}`);
  const spec = specOf(rev, resolution);
  const artRev = (rev.facts.artifacts as Record<string, number> | undefined)?.[svc.name] ?? rev.number;
  const artifact = await deps.driver.prepare(spec.project, spec.env, svc, artRev, { existingOnly: true });
  const r = await deps.driver.runOnce(
    {
      project: spec.project,
      env: spec.env,
      service: svc,
      revision: rev.number,
      version: rev.version,
      slot: "candidate",
      index: 0,
      env_vars: {
        ...svc.env,
        SLIPWAY_VERSION: rev.version,
        SLIPWAY_ENV: spec.env,
        ...(opts.to !== undefined ? { MIGRATE_TO: opts.to } : {}),
      },
      artifact,
    },
    command,
    { timeoutMs: 600_000, signal: opts.signal },
  );
  return {
    service: svc.name,
    action,
    revision: rev.number,
    version: rev.version,
    command,
    exitCode: r.exitCode,
    output: redact(r.output, secretValues(resolution)),
  };
}

const tail = (s: string, n = 15) => s.trimEnd().split("\n").slice(-n).join("\n");

/**
 * `slipway migrate ENV up|down|status [--to N] [SVC]`: the command of the deployed release (or
 * of `revision`) as a one-off; up and down take the environment lock and need --yes when the
 * environment is protected.
 */
export async function migrate(
  deps: EngineDeps,
  resolution: Resolution,
  opts: {
    action: MigrateAction;
    service?: string;
    to?: string;
    revision?: number;
    yes?: boolean;
    emit?: EventSink;
    signal?: AbortSignal;
  },
): Promise<{ action: MigrateAction; revision: number; results: MigrationResult[] }> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  if (!["up", "down", "status"].includes(opts.action))
    throw new UsageError(`migrate: the action is up, down or status, not "${opts.action}"`);
  if (opts.to !== undefined && !/^[A-Za-z0-9._:-]+$/.test(opts.to))
    throw new UsageError(`--to: expected a migration number or name, got "${opts.to}"`);
  let rev: Revision | undefined;
  if (opts.revision !== undefined) {
    rev = await deps.store.getRevision(cur.project, cur.env, opts.revision);
    if (!rev)
      throw new UsageError(
        `revision ${opts.revision} not found in ${cur.env} (see: slipway history ${cur.env})`,
      );
  } else {
    rev = await deps.store.currentRevision(cur.project, cur.env);
    if (!rev)
      throw new UsageError(
        `nothing is deployed in ${cur.env}: migrations run as a one-off of the deployed release (deploy first; a deploy runs migrate.up itself)`,
      );
  }
  const spec = specOf(rev, resolution);
  let services: ResolvedService[];
  if (opts.service !== undefined) {
    const svc = spec.services[opts.service];
    if (!svc)
      throw new UsageError(
        `no service "${opts.service}" in revision ${rev.number} of ${cur.env} (services: ${Object.keys(spec.services).join(", ")})`,
      );
    if (!svc.migrate?.[opts.action])
      throw new UsageError(
        `service "${opts.service}" declares no migrate.${opts.action} (services.${opts.service}.migrate)`,
      );
    services = [svc];
  } else {
    services = Object.values(spec.services).filter((s) => s.migrate?.[opts.action]);
    if (!services.length)
      throw new UsageError(
        `no service of revision ${rev.number} in ${cur.env} declares migrate.${opts.action}`,
      );
  }
  if (opts.action !== "status" && cur.protect?.confirm && !opts.yes)
    throw new Refused(
      `environment "${cur.env}" is protected: migrate ${opts.action} needs --yes (nothing was changed)`,
    );
  const target = rev;
  const run = async () => {
    const results: MigrationResult[] = [];
    for (const svc of services) {
      emit({
        type: "log",
        level: "info",
        service: svc.name,
        message: `${svc.name}: migrate ${opts.action} (revision ${target.number}, ${target.version})${opts.to !== undefined ? ` to ${opts.to}` : ""}`,
      });
      const r = await runMigration(deps, resolution, target, svc, opts.action, {
        to: opts.to,
        signal: opts.signal,
      });
      results.push(r);
      if (r.exitCode !== 0) {
        const err = new OperationFailed(
          `${svc.name}: migrate ${opts.action} failed (exit ${r.exitCode})${r.output.trim() ? `\n${tail(r.output)}` : ""}`,
        );
        err.details = { results };
        throw err;
      }
    }
    return { action: opts.action, revision: target.number, results };
  };
  return opts.action === "status" ? run() : withLock(deps, cur, `migrate ${opts.action}`, run);
}

// ---------------------------------------------------------------------------------------------
// rollback --with-db

export interface DataRollbackStep {
  /** The revision whose data change is undone (newest first). */
  revision: number;
  version: string;
  service: string;
  action: "down" | "restore";
  /** restore: the backup taken before `revision` deployed. */
  backupId?: string;
  backupService?: string;
  /** Set when the step cannot be done (no down command and no backup recorded). */
  problem?: string;
}

export interface DataRollbackPlan {
  target: number;
  /** Undo the recorded migrations (a rollback without --with-db warns about these). */
  steps: DataRollbackStep[];
  /**
   * Return the backed-up services to the target's data when no migration is undone by a down
   * command: the backups recorded by the deploy that replaced the target (run after `steps`).
   */
  restores: DataRollbackStep[];
}

/**
 * What returning the data to `target` takes: for every revision after it that recorded a
 * migration (newest first), each migrated service's `migrate.down` from that revision's release,
 * or, without one, the backup recorded before that revision deployed. Revisions whose data an
 * earlier `--with-db` rollback already returned are skipped.
 *
 * Unless a down-migration is part of it (whoever declares `migrate.down` wants the data written
 * since kept), every backed-up service also goes back to the data the target left: the backup
 * recorded by the deploy that replaced the target (the first later revision that did not fail),
 * unless a restore of an older revision's backup already covers that service.
 */
export function planDataRollback(revisions: Revision[], target: Revision): DataRollbackPlan {
  const newer = revisions.filter((r) => r.number > target.number).sort((a, b) => b.number - a.number);
  const undone = new Set<number>();
  for (const r of newer) {
    const d = r.facts.dataRollback as { revisions?: number[] } | undefined;
    for (const n of d?.revisions ?? []) undone.add(n);
  }
  const steps: DataRollbackStep[] = [];
  for (const r of newer) {
    const migrated = r.facts.migrations as Record<string, unknown> | undefined;
    if (!migrated || undone.has(r.number)) continue;
    const snap = r.snapshot as ResolvedSpec;
    const backups = (r.facts.backups ?? {}) as Record<string, string>;
    for (const name of Object.keys(migrated)) {
      const base = { revision: r.number, version: r.version, service: name };
      if (snap.services?.[name]?.migrate?.down) {
        steps.push({ ...base, action: "down" });
        continue;
      }
      const own = backups[name];
      const recorded = own ? [[name, own]] : Object.entries(backups);
      if (!recorded.length) {
        steps.push({
          ...base,
          action: "restore",
          problem: `revision ${r.number} ran migrations of ${name}, which has no migrate.down, and no backup was recorded before it deployed`,
        });
        continue;
      }
      for (const [svc, id] of recorded)
        steps.push({ ...base, action: "restore", backupId: id, backupService: svc });
    }
  }
  return { target: target.number, steps, restores: replacingRestores(newer, undone, steps) };
}

/** The restores that return backed-up services to the data of the revision `newer` replaced. */
function replacingRestores(
  newer: Revision[],
  undone: Set<number>,
  steps: DataRollbackStep[],
): DataRollbackStep[] {
  if (steps.some((s) => s.action === "down")) return [];
  // Oldest first: the first later revision that went live (a failed one left the target serving).
  const replacing = [...newer].reverse().find((r) => r.status !== "failed" && r.status !== "in-progress");
  if (!replacing || undone.has(replacing.number)) return [];
  const backups = (replacing.facts.backups ?? {}) as Record<string, string>;
  return Object.entries(backups)
    .filter(([svc]) => !steps.some((s) => s.backupService === svc && s.revision <= replacing.number))
    .map(([svc, id]) => ({
      revision: replacing.number,
      version: replacing.version,
      service: svc,
      action: "restore" as const,
      backupId: id,
      backupService: svc,
    }));
}

/** The warning of a rollback across migrations without --with-db: what the data needs, as commands. */
export function dataRollbackAdvice(env: string, plan: DataRollbackPlan): string {
  const revs = [...new Set(plan.steps.map((s) => s.revision))];
  const lines = [
    `revision${revs.length > 1 ? "s" : ""} ${revs.join(", ")} ran database migrations; this rollback returns the code only, the data stays as it is.`,
    `To return the data as well, roll back with: slipway rollback ${env} ${plan.target} --with-db`,
    `or, after this rollback, run:`,
  ];
  const seen = new Set<string>();
  for (const s of plan.steps) {
    const cmd =
      s.action === "down"
        ? `slipway migrate ${env} down ${s.service} --revision ${s.revision}`
        : s.backupId
          ? `slipway restore ${env} ${s.backupId}`
          : `# ${s.problem}`;
    if (!seen.has(cmd)) lines.push(`  ${cmd}`);
    seen.add(cmd);
  }
  return lines.join("\n");
}

/**
 * Return the data before the code of a rollback: down-migrations (from the newer release) or
 * restores, newest revision first. Anything impossible is reported before anything runs; a
 * failure stops here, before the code moves.
 */
export async function rollbackData(
  deps: EngineDeps,
  resolution: Resolution,
  revisions: Revision[],
  plan: DataRollbackPlan,
  opts: { emit?: EventSink; signal?: AbortSignal } = {},
): Promise<{ revisions: number[]; steps: (DataRollbackStep & { result: string })[] }> {
  const emit = opts.emit ?? noopSink;
  const cur = resolution.spec;
  const impossible = plan.steps.filter((s) => s.problem);
  if (impossible.length)
    throw new OperationFailed(
      `cannot return the data to revision ${plan.target}: ${impossible.map((s) => s.problem).join("; ")} (nothing was changed; roll back without --with-db to move the code only)`,
    );
  const all = [...plan.steps, ...plan.restores];
  if (!all.length) {
    emit({
      type: "log",
      level: "info",
      message: `no migration recorded after revision ${plan.target} and no backup recorded by the deploy that replaced it: the data stays as it is`,
    });
    return { revisions: [], steps: [] };
  }
  const byNumber = new Map(revisions.map((r) => [r.number, r]));
  const done: (DataRollbackStep & { result: string })[] = [];
  const restored = new Set<string>();
  await withBackups(deps, async (b) => {
    for (const s of all) {
      const rev = byNumber.get(s.revision) as Revision;
      if (s.action === "down") {
        const svc = specOf(rev, resolution).services[s.service];
        emit({
          type: "log",
          level: "info",
          service: s.service,
          message: `${s.service}: migrate down (revision ${rev.number}, ${rev.version})`,
        });
        const r = await runMigration(deps, resolution, rev, svc, "down", { signal: opts.signal });
        if (r.exitCode !== 0)
          throw new OperationFailed(
            `${s.service}: the down-migration of revision ${rev.number} failed (exit ${r.exitCode}); the code was not rolled back${r.output.trim() ? `\n${tail(r.output)}` : ""}`,
          );
        done.push({ ...s, result: "down-migration applied" });
        emit({
          type: "log",
          level: "info",
          service: s.service,
          message: `✔ ${s.service}: down-migration of revision ${rev.number} applied`,
        });
        continue;
      }
      const id = s.backupId as string;
      if (restored.has(id)) continue;
      const rec = await b.get(id);
      if (!rec)
        throw new OperationFailed(
          `backup ${id} recorded for revision ${rev.number} no longer exists (pruned?)`,
        );
      const config = configFor(cur, rec) ?? configFor(specOf(rev, resolution), rec);
      emit({
        type: "log",
        level: "info",
        service: rec.service,
        message: `${rec.service}: restoring ${id}, taken before revision ${rev.number} deployed`,
      });
      try {
        await b.restore(id, config ? { config } : {});
      } catch (e) {
        throw new OperationFailed(`${errorMessage(e)}; the code was not rolled back`);
      }
      restored.add(id);
      done.push({ ...s, result: `restored ${id}` });
      emit({ type: "log", level: "info", service: rec.service, message: `✔ ${rec.service}: restored ${id}` });
    }
  });
  return { revisions: [...new Set(all.map((s) => s.revision))], steps: done };
}

/** Keep in the rollback revision what the data rollback did (a later rollback skips it). */
export async function recordDataRollback(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  data: { revisions: number[]; steps: unknown[] },
): Promise<void> {
  const rev = await deps.store.getRevision(spec.project, spec.env, revision);
  if (!rev) return;
  await deps.store.updateRevision(spec.project, spec.env, revision, {
    facts: { ...rev.facts, dataRollback: data },
  });
}

// ---------------------------------------------------------------------------------------------
// operations as data (src/ops.ts hands these over)

export { DATA_OPS } from "./data-ops.js";

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export async function runDataOp(
  deps: EngineDeps,
  op: string,
  resolution: Resolution,
  a: Record<string, unknown>,
  ctx: { emit: EventSink; signal?: AbortSignal },
): Promise<unknown> {
  const spec = resolution.spec;
  const need = (k: string) => {
    const v = str(a[k]);
    if (!v) throw new UsageError(`${op}: missing ${k}`);
    return v;
  };
  switch (op) {
    case "backup":
      return takeBackups(deps, spec, { service: str(a.service), emit: ctx.emit });
    case "backups":
      return listBackups(deps, spec, str(a.service));
    case "backup-verify":
      return verifyBackup(deps, spec, need("id"));
    case "backups-prune":
      return pruneBackups(deps, spec, ctx.emit);
    case "restore":
      return restoreBackup(deps, spec, need("id"), {
        yes: a.yes === true,
        force: a.force === true,
        emit: ctx.emit,
      });
    case "migrate":
      return migrate(deps, resolution, {
        action: need("action") as MigrateAction,
        service: str(a.service),
        to: str(a.to),
        revision: num(a.revision),
        yes: a.yes === true,
        emit: ctx.emit,
        signal: ctx.signal,
      });
    default:
      throw new UsageError(`unknown operation "${op}"`);
  }
}
