/**
 * Crash recovery. When an operation's holder died (kill -9 of the daemon or of an in-process
 * CLI), its journal says how far it got: a deploy whose every rollout finished is completed;
 * anything else is undone. Live instances the store does not know are stopped (no orphans),
 * store records of dead instances are dropped (no ghosts).
 */
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { readableSpec, snapshotOf } from "./deployed.js";
import type { JournalStep, Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import type { EngineEvent, EventSink } from "./events.js";
import { recoverRestore, restoreMarks, settleRollbackRestores } from "./recover-restore.js";
import { finalize, undo } from "./run.js";
import { stopInstances, type RolloutState } from "./strategies/common.js";
import { isWarm } from "./warm.js";

export interface RecoveryReport {
  revisions: { number: number; outcome: "completed" | "rolled-back"; message: string }[];
  orphansStopped: string[];
  ghostsRemoved: string[];
}

type Outcome = RecoveryReport["revisions"][number];

export async function recoverEnvironment(
  deps: EngineDeps,
  project: string,
  env: string,
  emit: EventSink = () => {},
): Promise<RecoveryReport> {
  const report: RecoveryReport = { revisions: [], orphansStopped: [], ghostsRemoved: [] };
  const revisions = await deps.store.listRevisions(project, env, { limit: 20 });
  const interrupted = revisions.filter((r) => r.status === "in-progress");
  const current = revisions.find((r) => r.status === "deployed");
  for (const rev of interrupted.reverse()) {
    const outcome = await recoverRevision(deps, rev, current, emit);
    report.revisions.push(outcome);
    emit(outcomeAlert(rev, outcome, current));
  }
  await reconcile(deps, project, env, report, current);
  return report;
}

/** The operator hears what a crash interrupted and where recovery left the environment. */
function outcomeAlert(rev: Revision, outcome: Outcome, current: Revision | undefined): EngineEvent {
  const r = rev.facts.restore;
  const what = r
    ? `restore of ${r.service} from ${r.backup} (r${rev.number}) interrupted`
    : `${rev.rollbackOf ? "rollback" : "deploy"} of r${rev.number} interrupted`;
  const where =
    outcome.outcome === "completed"
      ? r
        ? "finished by recovery"
        : "completed by recovery"
      : r
        ? "the data it would replace was kept"
        : current
          ? `rolled back to r${current.number}`
          : "its changes undone (no previous revision)";
  return {
    type: "alert",
    kind: "deploy.recovered",
    severity: outcome.outcome === "completed" ? "warning" : "critical",
    revision: rev.number,
    message: `${rev.project} ${rev.env}: ${what}; ${where} (${outcome.message})`,
  };
}

/** Finish or undo one interrupted revision; it never stays in progress. */
async function recoverRevision(
  deps: EngineDeps,
  rev: Revision,
  current: Revision | undefined,
  emit: EventSink,
): Promise<Outcome> {
  const { store } = deps;
  const { project, env } = rev;
  try {
    // Stopping and finalizing what the journal names needs no secret; restarting the previous
    // revision does, and undo() re-hydrates it strictly (never from this process's environment).
    const spec = readableSpec(rev);
    const journal = await store.journal(project, env, rev.number);
    const outcome =
      rev.facts.operation === "restore"
        ? await recoverRestore(deps, rev, journal)
        : await recoverRelease(deps, spec, rev, current, journal, emit);
    await closeJournal(deps, rev);
    return outcome;
  } catch (e) {
    // Never leave a revision in progress (nor a step running): record the failure; reconcile()
    // makes the instances agree with the store.
    await closeJournal(deps, rev).catch(() => {});
    await store
      .updateRevision(project, env, rev.number, {
        status: "failed",
        finishedAt: new Date().toISOString(),
        reason: `interrupted; recovery error: ${errorMessage(e)}`,
      })
      .catch(() => {});
    return { number: rev.number, outcome: "rolled-back", message: `recovery error: ${errorMessage(e)}` };
  }
}

/** The steps the crash cut are failed ("interrupted"), the ones it never reached skipped. */
async function closeJournal(deps: EngineDeps, rev: Revision): Promise<void> {
  const journal = await deps.store.journal(rev.project, rev.env, rev.number);
  for (const s of journal.filter((j) => j.status === "running" || j.status === "pending"))
    await deps.store.journalUpdate(rev.project, rev.env, rev.number, s.seq, {
      status: s.status === "running" ? "failed" : "skipped",
      message: "interrupted",
    });
}

/** A deploy or rollback: completed when every rollout finished, else undone — data and code alike. */
async function recoverRelease(
  deps: EngineDeps,
  spec: ResolvedSpec,
  rev: Revision,
  current: Revision | undefined,
  journal: JournalStep[],
  emit: EventSink,
): Promise<Outcome> {
  const done = completable(journal);
  await recordCutMigrations(deps, rev, journal);
  // The restores of a rollback --with-db kept the replaced data aside: it goes back with the code.
  const data = await settleRollbackRestores(deps, rev, restoreMarks(journal), done ? "new" : "old");
  const outcome = done
    ? await complete(deps, spec, rev, current, await journaledStates(deps, rev, journal))
    : await rollBack(deps, spec, rev, current, await statesToUndo(deps, spec, rev, journal), emit);
  if (data.length) outcome.message += `; data: ${data.join("; ")}`;
  return outcome;
}

/**
 * A migration cut by the crash may have finished without us (its process outlives the daemon):
 * it is recorded as run, so a later `rollback --with-db` undoes it rather than skip it.
 */
async function recordCutMigrations(deps: EngineDeps, rev: Revision, journal: JournalStep[]) {
  const cut = journal.filter((s) => s.kind === "migrate" && s.status === "running" && s.service);
  if (!cut.length) return;
  const migrations = { ...rev.facts.migrations };
  for (const s of cut) migrations[s.service as string] = true;
  rev.facts = { ...rev.facts, migrations };
  await deps.store.updateRevision(rev.project, rev.env, rev.number, { facts: rev.facts });
}

/** Every rollout finished and a bake (if any) passed: a bake's lost verdict never promotes. */
function completable(journal: JournalStep[]): boolean {
  const rollouts = journal.filter((s) => s.kind === "rollout");
  return (
    rollouts.length > 0 &&
    rollouts.every((s) => s.status === "ok") &&
    !journal.some((s) => s.kind === "bake" && s.status !== "ok") &&
    journal.some((s) => s.kind === "finalize")
  );
}

async function complete(
  deps: EngineDeps,
  spec: ResolvedSpec,
  rev: Revision,
  current: Revision | undefined,
  states: RolloutState[],
): Promise<Outcome> {
  await finalize(deps, spec, states);
  await deps.store.updateRevision(rev.project, rev.env, rev.number, {
    status: "deployed",
    finishedAt: new Date().toISOString(),
    reason: "completed by recovery after an interruption",
  });
  if (current && current.number !== rev.number)
    await deps.store.updateRevision(rev.project, rev.env, current.number, { status: "superseded" });
  return { number: rev.number, outcome: "completed", message: "every service was rolled out" };
}

async function rollBack(
  deps: EngineDeps,
  spec: ResolvedSpec,
  rev: Revision,
  current: Revision | undefined,
  states: RolloutState[],
  emit: EventSink,
): Promise<Outcome> {
  const resolution = { spec, snapshot: spec, secrets: new Map<string, string>(), vars: {} };
  const undone = await undo(deps, spec, states, current, resolution, emit);
  await deps.store.updateRevision(rev.project, rev.env, rev.number, {
    status: "failed",
    finishedAt: new Date().toISOString(),
    reason: "interrupted; rolled back by recovery",
    facts: { ...rev.facts, undo: undone },
  });
  return {
    number: rev.number,
    outcome: "rolled-back",
    message: undone.map((u) => `${u.service}: ${u.message}`).join("; ") || "nothing had changed",
  };
}

interface World {
  byId: Map<string, Instance>;
  alive: Map<string, Instance>;
}

async function world(deps: EngineDeps, rev: Revision): Promise<World> {
  const records = await deps.store.listInstances(rev.project, rev.env);
  const live = await deps.driver.inspect(rev.project, rev.env);
  return { byId: new Map(records.map((i) => [i.id, i])), alive: new Map(live.map((i) => [i.id, i])) };
}

/**
 * The rollouts as the journal recorded them. The old instances count as stopped once any of
 * them is gone: recreate removes their records as it stops them, so only the live world tells.
 */
async function journaledStates(
  deps: EngineDeps,
  rev: Revision,
  journal: JournalStep[],
): Promise<RolloutState[]> {
  const { byId, alive } = await world(deps, rev);
  const states: RolloutState[] = [];
  for (const step of journal.filter((s) => s.kind === "rollout")) {
    const data = (step.data ?? {}) as { fresh?: string[]; old?: string[]; phase?: string };
    if (!step.service || (!data.fresh && !data.old)) continue;
    const oldIds = data.old ?? [];
    states.push({
      service: step.service,
      fresh: (data.fresh ?? []).map((id) => byId.get(id)).filter((i) => i !== undefined),
      old: oldIds.map((id) => byId.get(id)).filter((i) => i !== undefined && alive.has(i.id)) as Instance[],
      oldStopped: data.phase === "stopping-old" || oldIds.some((id) => !alive.has(id)),
      routed: data.phase === "routed",
    });
  }
  return states;
}

/**
 * What an undo must take back: the journaled rollouts, plus every instance of the interrupted
 * revision the journal never named (stored or started just before the crash): none of them is
 * promoted, so each is stopped before the previous release starts again (never two instances
 * of a stateful service). An old slot only partly stopped is stopped entirely and restarted.
 */
async function statesToUndo(
  deps: EngineDeps,
  spec: ResolvedSpec,
  rev: Revision,
  journal: JournalStep[],
): Promise<RolloutState[]> {
  const states = await journaledStates(deps, rev, journal);
  const { byId, alive } = await world(deps, rev);
  const ofRevision = [...new Map([...byId, ...alive]).values()].filter((i) => i.revision === rev.number);
  for (const inst of ofRevision) {
    let st = states.find((s) => s.service === inst.service);
    if (!st) {
      const old = [...byId.values()].filter(
        (i) => i.service === inst.service && i.revision !== rev.number && !isWarm(i),
      );
      st = { service: inst.service, fresh: [], old, oldStopped: false, routed: false };
      states.push(st);
    }
    if (!st.fresh.some((i) => i.id === inst.id)) st.fresh.push(inst);
  }
  for (const st of states) {
    const svc = spec.services[st.service];
    if (!st.oldStopped || !st.old.length || !svc) continue;
    await stopInstances(deps, svc, st.old);
    st.old = [];
  }
  return states;
}

/** Make the store and the world agree: stop unknown live instances, drop records of dead ones. */
export async function reconcile(
  deps: EngineDeps,
  project: string,
  env: string,
  report: RecoveryReport,
  current?: Revision,
): Promise<void> {
  const live = await deps.driver.inspect(project, env);
  const records = await deps.store.listInstances(project, env);
  const known = new Set(records.map((i) => i.id));
  const liveIds = new Set(live.map((i) => i.id));
  const spec = snapshotOf(current);
  for (const inst of live) {
    if (known.has(inst.id)) continue;
    const svc = spec?.services?.[inst.service];
    await deps.driver.stop(inst, {
      signal: svc?.stop.signal ?? "SIGTERM",
      graceMs: Math.min(svc?.stop.grace ?? 5000, 5000),
    });
    report.orphansStopped.push(inst.id);
  }
  for (const rec of records) {
    if (liveIds.has(rec.id)) continue;
    await deps.store.removeInstance(project, env, rec.id);
    report.ghostsRemoved.push(rec.id);
  }
}
