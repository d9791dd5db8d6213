/**
 * The rollbacks nobody typed: the analysis watch's (engine/analysis-watch.ts) after a breach and the
 * crash-loop handler's (engine/crash-loop-watch.ts). One way to find what to run and with which
 * secrets, the same `rollback()` a person runs.
 */
import type { Resolution } from "../spec/resolve.js";
import type { Target } from "../spec/schema.js";
import type { RevisionFacts, Store } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { readableSpec, snapshotOf } from "./deployed.js";
import { noopSink, type EventSink } from "./events.js";
import { rollback } from "./rollback.js";
import type { DeployResult } from "./run.js";

export interface AutoRollbackOptions {
  /** The latest resolution an operation brought (its secrets); else the daemon's environment. */
  latest?: Resolution;
  /** Revision to return to (default: the one before the current). */
  revision?: number;
  /** Why, recorded as the new revision's description. */
  description: string;
  /** Recorded in the new revision's facts: what made the rollback. */
  trigger?: RevisionFacts["trigger"];
  emit?: EventSink;
}

/** What an automatic rollback needs from the engine (factory.ts builds it). */
export interface AutoRollbackHost {
  store: Store;
  /** Engine dependencies (driver, proxy) for a target. */
  deps(target: Target): EngineDeps;
}

/** Roll the deployed revision of `project`/`env` back, on the target its snapshot names. */
export async function autoRollback(
  host: AutoRollbackHost,
  project: string,
  env: string,
  opts: AutoRollbackOptions,
): Promise<DeployResult> {
  const current = await host.store.currentRevision(project, env);
  if (!current) throw new Error("nothing deployed");
  // Only its target and name are read here; the rollback target's values are checked by rollback().
  const spec = readableSpec(current, opts.latest?.secrets);
  const resolution: Resolution = opts.latest ?? {
    spec,
    snapshot: snapshotOf(current),
    secrets: new Map(),
    vars: {},
  };
  const deps = host.deps(spec.target);
  const r = await rollback(deps, resolution, {
    revision: opts.revision,
    yes: true,
    description: opts.description,
    emit: opts.emit ?? noopSink,
  });
  if (!("revision" in r)) throw new Error("an automatic rollback never dry-runs");
  if (opts.trigger) {
    const made = await deps.store.getRevision(project, env, r.revision);
    if (made)
      await deps.store.updateRevision(project, env, r.revision, {
        facts: { ...made.facts, trigger: opts.trigger },
      });
  }
  return r;
}
