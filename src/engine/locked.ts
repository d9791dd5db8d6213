/**
 * Operations under the environment lock (engine/lock.ts takes it): `locked()` around a changing
 * operation, `recover()` after a crash, `releaseLock()` for `slipway lock --release`.
 */
import { hostname } from "node:os";
import { LockHeld } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { LockInfo } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { noopSink, type EventSink } from "./events.js";
import { acquireLock, holderAlive, waitForHousekeeping } from "./lock.js";
import { recoverEnvironment, type RecoveryReport } from "./recover.js";
import { reapWarm } from "./warm.js";

/** Run `fn` holding the environment lock; a stale lock (dead holder) is recovered first. */
export async function locked<T>(
  deps: EngineDeps,
  spec: ResolvedSpec,
  operation: string,
  emit: EventSink,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = await waitForHousekeeping(emit, spec.env, () => takeLock(deps, spec, operation, emit));
  try {
    await reapWarm(deps, spec.project, spec.env, { spec });
    return await fn();
  } finally {
    await deps.store.releaseLock(spec.project, spec.env, lock.holder);
  }
}

function takeLock(
  deps: EngineDeps,
  spec: ResolvedSpec,
  operation: string,
  emit: EventSink,
): Promise<LockInfo> {
  return acquireLock(deps.store, spec.project, spec.env, deps.actor, operation, async (stale) => {
    emit({
      type: "log",
      level: "warn",
      message: `the previous ${stale.operation} (${stale.holder}) was interrupted; recovering`,
    });
    const r = await recoverEnvironment(deps, spec.project, spec.env, emit);
    reportRecovery(r, emit);
    return true;
  });
}

/**
 * Run `fn` holding the lock, or return undefined at once when an operation holds it: the
 * daemon's periodic work (housekeeping, health sweeps) waits for the next round instead.
 */
export async function unlessLocked<T>(
  deps: EngineDeps,
  project: string,
  env: string,
  operation: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  let lock: LockInfo;
  try {
    lock = await acquireLock(deps.store, project, env, deps.actor, operation);
  } catch (e) {
    if (e instanceof LockHeld) return undefined;
    throw e;
  }
  try {
    return await fn();
  } finally {
    await deps.store.releaseLock(project, env, lock.holder);
  }
}

function reportRecovery(r: RecoveryReport | undefined, emit: EventSink): void {
  for (const x of r?.revisions ?? [])
    emit({ type: "log", level: "warn", message: `revision ${x.number}: ${x.outcome} (${x.message})` });
}

/** Recover an interrupted operation: a stale lock, or a revision left in progress. */
export async function recover(
  deps: EngineDeps,
  project: string,
  env: string,
  emit: EventSink = noopSink,
): Promise<RecoveryReport | undefined> {
  const holder = await deps.store.getLock(project, env);
  if (holder) {
    // Only a stale lock means an interrupted operation; acquireLock decides.
    let report: RecoveryReport | undefined;
    try {
      const lock = await acquireLock(deps.store, project, env, deps.actor, "recover", async () => {
        report = await recoverEnvironment(deps, project, env, emit);
        return true;
      });
      await deps.store.releaseLock(project, env, lock.holder);
    } catch (e) {
      if (e instanceof LockHeld) return undefined; // held by a live operation
      throw e;
    }
    return report;
  }
  const revs = await deps.store.listRevisions(project, env, { limit: 5 });
  if (revs.some((r) => r.status === "in-progress")) return recoverEnvironment(deps, project, env, emit);
  return undefined;
}

/**
 * `slipway lock ENV --release`: clear a lock whose holder is gone. A holder alive on this host
 * is mid-operation, so it is refused. What a dead holder left half done is recovered from the
 * journal first, so the next operation never starts from a half state.
 */
export async function releaseLock(
  deps: EngineDeps,
  project: string,
  env: string,
  emit: EventSink = noopSink,
): Promise<{ released: boolean; holder?: LockInfo; recovery?: RecoveryReport }> {
  const { store } = deps;
  const held = await store.getLock(project, env);
  if (!held) return { released: false };
  if (holderAlive(held)) {
    const e = new LockHeld(env, held.holder, held.acquiredAt, held.operation);
    e.message = `environment "${env}" is locked by ${held.holder} (${held.operation}) since ${held.acquiredAt}, and that process is still running: not released`;
    throw e;
  }
  let recovery: RecoveryReport | undefined;
  const recoverNow = async () => {
    recovery = await recoverEnvironment(deps, project, env, emit);
    return true;
  };
  // A holder on another host cannot be checked from here: the user's word that it is gone
  // is what --release means, so its lock is dropped before ours is taken.
  if (!held.holder.endsWith(`@${hostname()}`)) await store.releaseLock(project, env, held.holder);
  const lock = await acquireLock(store, project, env, deps.actor, "recover", recoverNow);
  try {
    if (!recovery) await recoverNow();
  } finally {
    await store.releaseLock(project, env, lock.holder);
  }
  reportRecovery(recovery, emit);
  return { released: true, holder: held, recovery };
}
