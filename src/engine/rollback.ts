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
import { protect, protectionFacts, type Confirmation } from "./protect.js";
import { scaledResolution } from "./scale-record.js";
import { runPlan, type DeployResult } from "./run.js";

export interface RollbackOptions {
  /** Revision to return to (default: the one before the current). */
  revision?: number;
  /**
   * `rollback ENV REF`: an existing revision number means that revision, anything else a release
   * label (the newest deployable revision carrying it).
   */
  ref?: string;
  /** `--label X`: REF is a label even when it looks like a revision number. */
  label?: string;
  yes?: boolean;
  /** A `confirm: name` environment's typed name (engine/protect.ts). */
  protection?: Omit<Confirmation, "yes" | "overrideFreeze">;
  withDb?: boolean;
  dryRun?: boolean;
  /** Recorded with the revision (default "rollback to revision N"); the watch says why it rolled back. */
  description?: string;
  emit?: EventSink;
  signal?: AbortSignal;
}

/** Which revision a rollback was asked for: a number, a reference or a label (or none). */
export interface RollbackWanted {
  revision?: number;
  ref?: string;
  label?: string;
}

/** A release that ran: not failed, not in progress, not an operation such as a restore. */
const restorable = (r: Revision) =>
  r.status !== "failed" && r.status !== "in-progress" && r.facts.operation === undefined;

/** A label no restorable revision carries: say which labels there are (exit 2). */
function noSuchLabel(env: string, label: string, revs: Revision[]): UsageError {
  // One per label, the newest (the one a rollback to it would choose).
  const newest = new Map<string, number>();
  for (const r of revs.filter(restorable)) if (!newest.has(r.version)) newest.set(r.version, r.number);
  const labels = [...newest].map(([v, n]) => `${v} (revision ${n})`);
  const list = labels.length ? labels.slice(0, 20).join(", ") : "none";
  return Object.assign(
    new UsageError(`no revision of ${env} has the label "${label}"; candidates: ${list}`),
    {
      details: {
        candidates: revs.filter(restorable).map((r) => ({ revision: r.number, version: r.version })),
      },
    },
  );
}

/** Resolve a reference to a revision number: an existing number, else the newest revision with that label. */
function wantedNumber(env: string, revs: Revision[], w: RollbackWanted): number | undefined {
  if (w.label !== undefined || (w.ref !== undefined && !revs.some((r) => String(r.number) === w.ref))) {
    const label = (w.label ?? w.ref) as string;
    // Newest first: the newest revision deployed with that label (a failed one never ran it).
    const hit = revs.find((r) => r.version === label && restorable(r));
    if (!hit) throw noSuchLabel(env, label, revs);
    return hit.number;
  }
  return w.ref !== undefined ? Number(w.ref) : w.revision;
}

/** The revision a rollback returns to: the one asked for, else the last deployed before the current. */
export function rollbackTarget(
  env: string,
  revs: Revision[],
  current: Revision | undefined,
  asked: number | RollbackWanted | undefined,
): Revision {
  let target: Revision | undefined;
  const wanted = wantedNumber(env, revs, typeof asked === "object" ? asked : { revision: asked });
  if (wanted !== undefined) {
    target = revs.find((r) => r.number === wanted);
    if (!target) throw new UsageError(`revision ${wanted} not found in ${env} (see: slipway history ${env})`);
    if (!restorable(target))
      throw new UsageError(
        target.facts.operation
          ? `revision ${wanted} is a ${target.facts.operation}, not a release; roll back to a revision that was deployed`
          : `revision ${wanted} is ${target.status}; only a revision that was deployed can be restored`,
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

const PAGE = 50;

/**
 * The rollback's target and every revision newer than it (the data plan needs them all). A
 * label or number may be years old, but reading every snapshot of a long history on each
 * rollback is what a 2 a.m. rollback must not wait for: the newest page first, the whole
 * history only when the target is not in it (or a number could be an older revision's).
 */
export async function targetAndNewer(
  store: EngineDeps["store"],
  env: string,
  project: string,
  current: Revision | undefined,
  asked: RollbackWanted,
): Promise<{ revs: Revision[]; target: Revision }> {
  const page = await store.listRevisions(project, env, { limit: PAGE });
  const whole = page.length < PAGE;
  const numeric = asked.label === undefined && asked.ref !== undefined && /^\d+$/.test(asked.ref);
  if (whole || !numeric || page.some((r) => String(r.number) === asked.ref))
    try {
      return { revs: page, target: rollbackTarget(env, page, current, asked) };
    } catch (e) {
      if (whole) throw e;
    }
  const all = await store.listRevisions(project, env);
  return { revs: all, target: rollbackTarget(env, all, current, asked) };
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

/** What a rollback does with the data: advice without --with-db, refusal or "nothing to do" with it. */
function announceData(
  env: string,
  dataPlan: ReturnType<typeof planDataRollback>,
  p: Plan,
  withDb: boolean,
  emit: EventSink,
): void {
  if (dataPlan.steps.length && !withDb)
    emit({ type: "log", level: "warn", message: dataRollbackAdvice(env, dataPlan) });
  if (!withDb) return;
  refuseImpossible(dataPlan);
  if (!p.steps.some((s) => s.data))
    emit({
      type: "log",
      level: "info",
      message: `no migration recorded after revision ${dataPlan.target} and no backup recorded by the deploy that replaced it: the data stays as it is`,
    });
}

export async function rollback(
  deps: EngineDeps,
  resolution: Resolution,
  opts: RollbackOptions = {},
): Promise<DeployResult | { dryRun: true; plan: Plan }> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  // A dry run changes nothing, so it needs no confirmation.
  const guard = opts.dryRun
    ? undefined
    : protect(
        cur,
        "rollback",
        { ...opts.protection, yes: opts.yes, kubeContext: deps.kubeContext?.() },
        deps.actor,
      );
  const run = async () => {
    const { store } = deps;
    const current = await store.currentRevision(cur.project, cur.env);
    const { revs, target } = await targetAndNewer(store, cur.env, cur.project, current, opts);
    // Counts set by `slipway scale` hold where the target's spec says what it said then.
    const { resolution: res } = await scaledResolution(store, revisionResolution(target, resolution));
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
    announceData(cur.env, dataPlan, p, !!opts.withDb, emit);
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
      facts: protectionFacts(guard),
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
