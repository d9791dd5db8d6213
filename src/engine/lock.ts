/** The per-environment deploy lock: one operation at a time, stale holders detected by pid. */
import { hostname } from "node:os";
import { LockHeld } from "../errors.js";
import type { LockInfo, Store } from "../store/store.js";
import { pidAlive } from "../util/pid.js";

/** A holder on this host whose process still runs: its operation is live, never take its lock. */
export function holderAlive(h: LockInfo): boolean {
  return h.holder.endsWith(`@${hostname()}`) && pidAlive(h.pid);
}

export function lockHolder(actor: string): string {
  return `${actor} pid ${process.pid}@${hostname()}`;
}

/**
 * Take the lock. A lock whose holder process (on this host) is gone is stale: it is taken over
 * only when `onStale` agrees (the caller recovers the interrupted operation first).
 */
export async function acquireLock(
  store: Store,
  project: string,
  env: string,
  actor: string,
  operation: string,
  onStale?: (stale: LockInfo) => Promise<boolean>,
): Promise<LockInfo> {
  const lock: LockInfo = {
    project,
    env,
    holder: lockHolder(actor),
    operation,
    pid: process.pid,
    acquiredAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await store.acquireLock(lock);
    if (r.ok) return lock;
    const h = r.holder;
    const sameHost = h.holder.endsWith(`@${hostname()}`);
    if (sameHost && !pidAlive(h.pid) && onStale && (await onStale(h))) {
      await store.releaseLock(project, env, h.holder);
      continue;
    }
    throw new LockHeld(env, h.holder, h.acquiredAt, h.operation);
  }
  const h = await store.getLock(project, env);
  throw new LockHeld(env, h?.holder ?? "unknown", h?.acquiredAt ?? "?", h?.operation ?? "?");
}
