/**
 * `slipway restart ENV [SVC]`: a zero-downtime rolling restart. The current revision is re-applied
 * to fresh instances by the rollout machinery a deploy uses (same artifacts, health-gated, traffic
 * switched, old instances drained), as a new revision whose facts say it was a restart.
 */
import { UsageError } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { EngineDeps } from "./context.js";
import { revisionResolution } from "./deployed.js";
import { noopSink, type EventSink } from "./events.js";
import { locked } from "./locked.js";
import { plan as makePlan, type Plan } from "./plan.js";
import { scaledResolution } from "./scale-record.js";
import { runPlan, type DeployResult } from "./run.js";

export interface RestartOptions {
  /** Only this service (default: every service of the deployed revision). */
  service?: string;
  dryRun?: boolean;
  emit?: EventSink;
  signal?: AbortSignal;
}

export async function restart(
  deps: EngineDeps,
  resolution: Resolution,
  opts: RestartOptions = {},
): Promise<DeployResult | { dryRun: true; plan: Plan }> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  const run = async () => {
    const { store } = deps;
    const current = await store.currentRevision(cur.project, cur.env);
    if (!current) throw new UsageError(`nothing is deployed in ${cur.env}: there is nothing to restart`);
    // Counts set by `slipway scale` hold through a restart (engine/scale-record.ts).
    const { resolution: res } = await scaledResolution(store, revisionResolution(current, resolution));
    const names = Object.keys(res.spec.services);
    if (opts.service && !names.includes(opts.service))
      throw new UsageError(
        `no service "${opts.service}" in revision ${current.number} of ${cur.env} (services: ${names.join(", ")})`,
      );
    const [latest] = await store.listRevisions(cur.project, cur.env, { limit: 1 });
    const p = makePlan({
      spec: res.spec,
      current,
      nextRevision: (latest?.number ?? 0) + 1,
      live: await store.listInstances(cur.project, cur.env),
      only: opts.service ? [opts.service] : undefined,
      // Re-applying the current revision: its artifacts, no checks, no migrations, no bake.
      rollbackOf: current.number,
      skipChecks: true,
    });
    if (opts.dryRun) return { dryRun: true as const, plan: p };
    const what = opts.service ?? "every service";
    emit({
      type: "log",
      level: "info",
      message: `restarting ${what} of ${cur.env} (revision ${current.number}, ${current.version}) as revision ${p.revision}`,
    });
    return runPlan(deps, {
      resolution: res,
      plan: p,
      current,
      rollbackOf: current,
      restart: true,
      description: `restart ${what} (revision ${current.number})`,
      skipChecks: true,
      emit,
      signal: opts.signal,
      facts: { restart: { of: current.number, services: p.services } },
    });
  };
  if (opts.dryRun) return run();
  return locked(deps, cur, "restart", emit, run);
}
