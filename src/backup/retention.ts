/**
 * Which backups a retention policy removes. Pure: records in, records to delete out.
 *
 * - keepLast N: keep the N newest successful (ok or verified) backups of the service;
 * - maxAge: delete anything older (default 30 days), including failed and corrupt ones;
 * - never: the newest verified backup, the newest successful one, a running one, or one in
 *   `protect` (the engine passes the backups a `rollback --with-db` may still restore).
 */
import type { BackupRecord } from "./catalog.js";

export interface Retention {
  keepLast?: number;
  /** Milliseconds. */
  maxAge?: number;
  /** Ids kept whatever their age or rank (they still count towards keepLast). */
  protect?: ReadonlySet<string>;
}

export const DEFAULT_MAX_AGE = 30 * 24 * 3600 * 1000;

const good = (r: BackupRecord) => r.status === "ok" || r.status === "verified";

export function selectForPruning(
  records: BackupRecord[],
  retention: Retention,
  now = new Date(),
): BackupRecord[] {
  const newestFirst = [...records].sort(
    (a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id),
  );
  const protectedIds = new Set<string>();
  const newestVerified = newestFirst.find((r) => r.status === "verified");
  const newestGood = newestFirst.find(good);
  if (newestVerified) protectedIds.add(newestVerified.id);
  if (newestGood) protectedIds.add(newestGood.id);
  for (const id of retention.protect ?? []) protectedIds.add(id);
  const maxAge = retention.maxAge ?? DEFAULT_MAX_AGE;
  const cutoff = now.getTime() - maxAge;
  const out: BackupRecord[] = [];
  let goodSeen = 0;
  for (const r of newestFirst) {
    if (r.status === "running" || protectedIds.has(r.id)) {
      if (good(r)) goodSeen++;
      continue;
    }
    const tooOld = Date.parse(r.startedAt) < cutoff;
    let beyondKeep = false;
    if (good(r)) {
      goodSeen++;
      beyondKeep = retention.keepLast !== undefined && goodSeen > retention.keepLast;
    }
    if (tooOld || beyondKeep) out.push(r);
  }
  return out;
}
