/**
 * What the daemon runs on its own every few seconds, each skipped while an operation holds the
 * environment's lock: warm reaping and self-heal (`maintain`), scheduled health sweeps.
 */
import type { Resolution } from "../spec/resolve.js";
import type { EngineDeps } from "./context.js";
import { snapshotOf } from "./deployed.js";
import type { EventSink } from "./events.js";
import { replaceLostInstances } from "./replace-lost.js";
import { rerouteMoved } from "./reroute-moved.js";
import { sweepHealth, type SweepOptions, type SweepReport } from "./health-sweep.js";
import { unlessLocked } from "./locked.js";
import { reapWarm } from "./warm.js";

/** Stop warm instances whose window is over, replace dead ones, re-route moved ones; the ids touched. */
export async function maintain(
  deps: EngineDeps,
  project: string,
  env: string,
  latest: Resolution | undefined,
  emit: EventSink,
): Promise<string[]> {
  try {
    const touched = await unlessLocked(deps, project, env, "maintain", async () => {
      const current = await deps.store.currentRevision(project, env);
      const reaped = await reapWarm(deps, project, env, { spec: snapshotOf(current) });
      const live = await deps.driver.inspect(project, env);
      const replaced = await replaceLostInstances(deps, project, env, latest, emit, live);
      const moved = await rerouteMoved(deps, project, env, live);
      return [...reaped, ...replaced, ...moved];
    });
    return touched ?? [];
  } catch {
    // Housekeeping never fails the tick: the next one tries again.
    return [];
  }
}

/** A scheduled health sweep (`run: health`); undefined while an operation holds the lock. */
export function sweepHealthUnlocked(
  deps: EngineDeps,
  project: string,
  env: string,
  opts: SweepOptions,
  emit: EventSink,
): Promise<SweepReport | undefined> {
  return unlessLocked(deps, project, env, "health-sweep", () => sweepHealth(deps, project, env, opts, emit));
}
