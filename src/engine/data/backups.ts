/**
 * Taking backups (issue 7): the deploy's backup and "record release" steps, `slipway backup`,
 * `backups`, `backup verify` and `backups prune`. The backup library (src/backup/) does the work.
 */
import type { BackupRecord } from "../../backup/index.js";
import { errorMessage, OperationFailed, UsageError } from "../../errors.js";
import type { ResolvedService, ResolvedSpec } from "../../spec/resolved.js";
import type { Revision } from "../../store/store.js";
import type { Instance } from "../../drivers/driver.js";
import { formatBytes } from "../../util/units.js";
import type { EngineDeps } from "../context.js";
import { snapshotOf } from "../deployed.js";
import { isWarm } from "../warm.js";
import type { EngineEvent, EventSink } from "../events.js";
import { noopSink } from "../events.js";
import {
  backedUpServices,
  backupConfigOf,
  backupsInUseBy,
  configFor,
  RELEASE_SERVICE,
  requireBackup,
  retentionOf,
  withBackups,
} from "./catalog.js";

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
  const services = Object.keys(snapshotOf(current).services ?? {});
  const images: Record<string, string> = {};
  for (const name of services) {
    const running = live.find((i) => i.service === name && !isWarm(i) && i.artifact);
    const artRev = current.facts.artifacts?.[name] ?? current.number;
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
          status: "ok",
          message: `${svc.name}: ${rec.id} ${formatBytes(rec.size)}${rec.status === "verified" ? " (verified)" : ""}`,
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
          status: "failed",
          message: `${svc.name}: ${errorMessage(e)}`,
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
