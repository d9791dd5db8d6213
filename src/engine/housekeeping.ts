/**
 * What the daemon runs on its own every few seconds, each skipped while an operation holds the
 * environment's lock: warm reaping and self-heal (`maintain`), scheduled health sweeps.
 */
import type { Resolution } from "../spec/resolve.js";
import type { EngineDeps } from "./context.js";
import { snapshotOf } from "./deployed.js";
import type { EventSink } from "./events.js";
import { replaceLostInstances } from "./replace-lost.js";
import { sweepHealth, type SweepOptions, type SweepReport } from "./health-sweep.js";
import { unlessLocked } from "./locked.js";
import { reapWarm } from "./warm.js";

/** Stop warm instances whose window is over and replace dead ones; the ids touched. */
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
      const replaced = await replaceLostInstances(deps, project, env, latest, emit);
      return [...reaped, ...replaced];
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
