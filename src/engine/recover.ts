/**
 * Crash recovery. When an operation's holder died (kill -9 of the daemon or of an in-process
 * CLI), its journal says how far it got: a deploy whose every rollout finished is completed;
 * anything else is undone. Live instances the store does not know are stopped (no orphans),
 * store records of dead instances are dropped (no ghosts).
 */
import { errorMessage } from "../errors.js";
import { readableSpec, snapshotOf } from "./deployed.js";
import type { Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import { finalize, undo } from "./run.js";
import type { RolloutState } from "./strategies/common.js";

export interface RecoveryReport {
  revisions: { number: number; outcome: "completed" | "rolled-back"; message: string }[];
  orphansStopped: string[];
  ghostsRemoved: string[];
}

export async function recoverEnvironment(
  deps: EngineDeps,
  project: string,
  env: string,
  emit: EventSink = () => {},
): Promise<RecoveryReport> {
  const { store, driver } = deps;
  const report: RecoveryReport = { revisions: [], orphansStopped: [], ghostsRemoved: [] };
  const revisions = await store.listRevisions(project, env, { limit: 20 });
  const interrupted = revisions.filter((r) => r.status === "in-progress");
  const current = revisions.find((r) => r.status === "deployed");

  for (const rev of interrupted.reverse()) {
    // Stopping and finalizing what the journal names needs no secret; restarting the previous
    // revision does, and undo() re-hydrates it strictly (never from this process's environment).
    const spec = readableSpec(rev);
    const journal = await store.journal(project, env, rev.number);
    const records = await store.listInstances(project, env);
    const alive = new Set((await driver.inspect(project, env)).map((i) => i.id));
    const byId = new Map(records.map((i) => [i.id, i]));
    const states: RolloutState[] = [];
    let allRolledOut = true;
    for (const step of journal.filter((s) => s.kind === "rollout")) {
      if (step.status !== "ok") allRolledOut = false;
      const data = (step.data ?? {}) as { fresh?: string[]; old?: string[]; phase?: string };
      if (!step.service || (!data.fresh && !data.old)) continue;
      const fresh = (data.fresh ?? []).map((id) => byId.get(id)).filter((i) => i !== undefined);
      const old = (data.old ?? []).map((id) => byId.get(id)).filter((i) => i !== undefined);
      states.push({
        service: step.service,
        fresh,
        old: old.filter((i) => alive.has(i.id)),
        oldStopped: data.phase === "stopping-old" || old.some((i) => !alive.has(i.id)),
        routed: data.phase === "routed",
      });
    }
    const finalizeStep = journal.find((s) => s.kind === "finalize");
    try {
      // A bake that did not pass never promotes: its verdict was lost with the process, so undo.
      const bakeUnfinished = journal.some((s) => s.kind === "bake" && s.status !== "ok");
      if (allRolledOut && !bakeUnfinished && journal.some((s) => s.kind === "rollout") && finalizeStep) {
        await finalize(deps, spec, states);
        await store.updateRevision(project, env, rev.number, {
          status: "deployed",
          finishedAt: new Date().toISOString(),
          reason: "completed by recovery after an interruption",
        });
        if (current && current.number !== rev.number)
          await store.updateRevision(project, env, current.number, { status: "superseded" });
        report.revisions.push({
          number: rev.number,
          outcome: "completed",
          message: "every service was rolled out",
        });
      } else {
        const undone = await undo(
          deps,
          spec,
          states,
          current,
          { spec, snapshot: spec, secrets: new Map(), vars: {} },
          emit,
        );
        await store.updateRevision(project, env, rev.number, {
          status: "failed",
          finishedAt: new Date().toISOString(),
          reason: "interrupted; rolled back by recovery",
          facts: { ...rev.facts, undo: undone },
        });
        report.revisions.push({
          number: rev.number,
          outcome: "rolled-back",
          message: undone.map((u) => `${u.service}: ${u.message}`).join("; ") || "nothing had changed",
        });
      }
      for (const s of journal.filter((j) => j.status === "running" || j.status === "pending"))
        await store.journalUpdate(project, env, rev.number, s.seq, {
          status: s.status === "running" ? "failed" : "skipped",
          message: "interrupted",
        });
    } catch (e) {
      // Never leave a revision in progress: record the failure; reconcile() below makes the
      // instances agree with the store.
      await store
        .updateRevision(project, env, rev.number, {
          status: "failed",
          finishedAt: new Date().toISOString(),
          reason: `interrupted; recovery error: ${errorMessage(e)}`,
        })
        .catch(() => {});
      report.revisions.push({
        number: rev.number,
        outcome: "rolled-back",
        message: `recovery error: ${errorMessage(e)}`,
      });
    }
  }
  await reconcile(deps, project, env, report, current);
  return report;
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
