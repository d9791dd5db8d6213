/**
 * The backup catalog of a SLIPWAY_HOME and what the engine asks of it: which services back up,
 * with which config and retention, which backups a rollback may still need.
 *
 * The catalog is part of the store (store/records.ts), SQLite or PostgreSQL alike.
 */
import { mkdirSync } from "node:fs";
import { isAbsolute, join, resolve as resolvePath } from "node:path";
import type { BackupConfig, BackupManager, BackupRecord, Retention } from "../../backup/index.js";
import { UsageError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService, ResolvedSpec } from "../../spec/resolved.js";
import type { Revision, Store } from "../../store/store.js";
import { formatBytes } from "../../util/units.js";
import type { EngineDeps } from "../context.js";
import { noopSink, type EventSink } from "../events.js";
import { acquireLock, waitForHousekeeping } from "../lock.js";

export type { BackupRecord };
export { formatBytes };

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
  const { BackupManager } = await import("../../backup/index.js");
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
    for (const id of Object.values(r.facts.backups ?? {})) out.add(id);
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

/** The service release snapshots are catalogued under (BackupManager.backupRelease). */
export const RELEASE_SERVICE = "_release";

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

export async function requireBackup(b: BackupManager, spec: ResolvedSpec, id: string): Promise<BackupRecord> {
  const rec = await b.get(id);
  if (!rec) throw new UsageError(`no backup with id "${id}" (slipway backups ${spec.env} lists them)`);
  if (rec.project !== spec.project || rec.env !== spec.env)
    throw new UsageError(
      `backup ${id} belongs to ${rec.project}/${rec.env}, not ${spec.project}/${spec.env} (slipway backups ${rec.env} lists it)`,
    );
  return rec;
}

/**
 * Run `fn` holding the environment lock (no stale-lock recovery: a data operation is short). The
 * daemon's housekeeping holds the lock for moments: waited for, as a deploy does, not exit 3.
 */
export async function withLock<T>(
  deps: EngineDeps,
  spec: ResolvedSpec,
  operation: string,
  fn: () => Promise<T>,
  emit: EventSink = noopSink,
) {
  const lock = await waitForHousekeeping(emit, spec.env, () =>
    acquireLock(deps.store, spec.project, spec.env, deps.actor, operation),
  );
  try {
    return await fn();
  } finally {
    await deps.store.releaseLock(spec.project, spec.env, lock.holder);
  }
}
