/**
 * The per-environment deploy lock: one operation at a time. A holder is identified by its pid
 * and the process's start time (`ci pid 4242/18734@build-1`), so a daemon restarted with the same
 * pid (pid 1 in a container) sees its dead predecessor's lock as stale instead of its own.
 */
import { hostname } from "node:os";
import { LockHeld } from "../errors.js";
import type { LockInfo, Store } from "../store/store.js";
import { identityAlive, selfIdentity } from "../util/pid.js";
import { sleep } from "../util/sleep.js";
import type { EventSink } from "./events.js";

const HOLDER = /pid (\d+)(?:\/(\d+))?@([^@]*)$/;

/** The start time a holder string records (`pid 4242/18734@host`), or undefined (older format). */
export function holderStartTime(holder: string): string | undefined {
  return HOLDER.exec(holder)?.[2];
}

function onThisHost(h: LockInfo): boolean {
  return h.holder.endsWith(`@${hostname()}`);
}

/**
 * A holder on this host whose process still runs: its operation is live, never take its lock.
 * Our own pid with another (or no) start time is a predecessor that died: this process always
 * records its start time when procfs can tell it.
 */
export function holderAlive(h: LockInfo): boolean {
  if (!onThisHost(h)) return false;
  const recorded = holderStartTime(h.holder);
  const self = selfIdentity();
  if (h.pid === self.pid && self.startTime !== undefined) return recorded === self.startTime;
  return identityAlive(h.pid, recorded);
}

export function lockHolder(actor: string): string {
  const { pid, startTime } = selfIdentity();
  return `${actor} pid ${pid}${startTime ? `/${startTime}` : ""}@${hostname()}`;
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
    if (!onThisHost(h) || holderAlive(h) || !onStale)
      throw new LockHeld(env, h.holder, h.acquiredAt, h.operation);
    // Take the stale lock over in one statement before recovering: of two callers racing on
    // it, only the winner recovers; the other then meets a live holder.
    if (!(await store.takeOverLock(lock, h.holder))) continue;
    let agreed = false;
    try {
      agreed = await onStale(h);
    } finally {
      // A recovery that failed or was declined leaves the stale lock as it was: the next caller recovers.
      if (!agreed) await store.takeOverLock(h, lock.holder);
    }
    if (agreed) return lock;
    throw new LockHeld(env, h.holder, h.acquiredAt, h.operation);
  }
  const h = await store.getLock(project, env);
  throw new LockHeld(env, h?.holder ?? "unknown", h?.acquiredAt ?? "?", h?.operation ?? "?");
}

/**
 * The daemon's own periodic work (warm reaping and self-heal, health sweeps) holds the lock for
 * moments at a time; a user's operation waits for it to end instead of failing with exit 3.
 */
const HOUSEKEEPING = new Set(["maintain", "health-sweep"]);
const HOUSEKEEPING_WAIT_MS = 120_000;

export async function waitForHousekeeping<T>(
  emit: EventSink,
  env: string,
  take: () => Promise<T>,
): Promise<T> {
  const until = Date.now() + HOUSEKEEPING_WAIT_MS;
  let said = false;
  for (;;) {
    try {
      return await take();
    } catch (e) {
      if (!(e instanceof LockHeld) || !HOUSEKEEPING.has(e.operation) || Date.now() > until) throw e;
      if (!said)
        emit({
          type: "log",
          level: "info",
          message: `${env}: waiting for the daemon's ${e.operation} to finish`,
        });
      said = true;
      await sleep(100);
    }
  }
}
