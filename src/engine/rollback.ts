/**
 * `slipway rollback`: re-apply an earlier revision as a new one. With --with-db the data goes
 * back first (down-migrations or backups, engine/data.ts); a failure there stops before the code.
 */
import { UsageError } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { JournalStep, Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { dataRollbackAdvice, dataSteps, planDataRollback, refuseImpossible } from "./data/index.js";
import { revisionResolution } from "./deployed.js";
import { noopSink, type EventSink } from "./events.js";
import { locked } from "./locked.js";
import { plan as makePlan, type Plan } from "./plan.js";
import { protect } from "./protect.js";
import { runPlan, type DeployResult } from "./run.js";

export interface RollbackOptions {
  /** Revision to return to (default: the one before the current). */
  revision?: number;
  yes?: boolean;
  withDb?: boolean;
  dryRun?: boolean;
  /** Recorded with the revision (default "rollback to revision N"); the watch says why it rolled back. */
  description?: string;
  emit?: EventSink;
  signal?: AbortSignal;
}

/** The revision a rollback returns to: the one asked for, else the last deployed before the current. */
export function rollbackTarget(
  env: string,
  revs: Revision[],
  current: Revision | undefined,
  wanted: number | undefined,
): Revision {
  let target: Revision | undefined;
  if (wanted !== undefined) {
    target = revs.find((r) => r.number === wanted);
    if (!target) throw new UsageError(`revision ${wanted} not found in ${env} (see: slipway history ${env})`);
    if (target.status === "failed" || target.status === "in-progress")
      throw new UsageError(
        `revision ${wanted} is ${target.status}; only a revision that was deployed can be restored`,
      );
  } else {
    target = revs.find(
      (r) =>
        (r.status === "superseded" || r.status === "deployed") &&
        r.number !== current?.number &&
        (!current || r.number < current.number),
    );
    if (!target) throw new UsageError(`no earlier revision to roll back to in ${env}`);
  }
  if (current && target.number === current.number)
    throw new UsageError(`revision ${target.number} is already deployed`);
  return target;
}

/** A rollback whose data steps ran and whose code then failed: say what the data now is. */
function warnDataReturned(e: unknown, target: Revision, emit: EventSink): void {
  const steps = ((e as { details?: { steps?: JournalStep[] } }).details?.steps ?? []).filter(
    (s) => (s.kind === "migrate-down" || s.kind === "restore") && s.status === "ok",
  );
  if (steps.length)
    emit({
      type: "log",
      level: "error",
      message: `the data was already returned to revision ${target.number} (${steps.map((x) => `${x.service}: ${x.message}`).join("; ")}) but the code rollback failed`,
    });
}

export async function rollback(
  deps: EngineDeps,
  resolution: Resolution,
  opts: RollbackOptions = {},
): Promise<DeployResult | { dryRun: true; plan: Plan }> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  protect(cur, "rollback", opts.yes || opts.dryRun);
  const run = async () => {
    const { store } = deps;
    const current = await store.currentRevision(cur.project, cur.env);
    const revs = await store.listRevisions(cur.project, cur.env, { limit: 200 });
    const target = rollbackTarget(cur.env, revs, current, opts.revision);
    const res = revisionResolution(target, resolution);
    const live = await store.listInstances(cur.project, cur.env);
    const dataPlan = planDataRollback(revs, target);
    const p = makePlan({
      spec: res.spec,
      current,
      nextRevision: (revs[0]?.number ?? 0) + 1,
      live,
      rollbackOf: target.number,
      skipChecks: true,
      // --with-db: the data goes back first (down-migrations or backups), each a step of the plan.
      data: opts.withDb ? dataSteps(dataPlan) : undefined,
    });
    if (opts.dryRun) return { dryRun: true as const, plan: p };
    if (dataPlan.steps.length && !opts.withDb)
      emit({ type: "log", level: "warn", message: dataRollbackAdvice(cur.env, dataPlan) });
    if (opts.withDb) {
      refuseImpossible(dataPlan);
      if (!p.steps.some((s) => s.data))
        emit({
          type: "log",
          level: "info",
          message: `no migration recorded after revision ${dataPlan.target} and no backup recorded by the deploy that replaced it: the data stays as it is`,
        });
    }
    emit({
      type: "log",
      level: "info",
      message: `rolling ${cur.env} back to revision ${target.number} (${target.version}) as revision ${p.revision}`,
    });
    const result = await runPlan(deps, {
      resolution: res,
      plan: p,
      current,
      rollbackOf: target,
      description: opts.description ?? `rollback to revision ${target.number}`,
      skipChecks: true,
      emit,
      signal: opts.signal,
      ...(opts.withDb ? { dataRollback: { from: resolution, revisions: revs } } : {}),
    }).catch((e: unknown) => {
      warnDataReturned(e, target, emit);
      throw e;
    });
    if (current) await store.updateRevision(cur.project, cur.env, current.number, { status: "rolled-back" });
    emit({
      type: "alert",
      kind: "deploy.rolled-back",
      severity: "warning",
      revision: result.revision,
      message: `${cur.project} ${cur.env}: rolled back to revision ${target.number} (${target.version})`,
    });
    return result;
  };
  if (opts.dryRun) return run();
  return locked(deps, cur, "rollback", emit, run);
}
