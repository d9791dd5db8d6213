/**
 * The data half of `slipway rollback --with-db`: what returning the data to a revision takes
 * (down-migrations or backup restores), the advice when it is not asked for, and doing it.
 */
import { errorMessage, OperationFailed } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { Revision } from "../../store/store.js";
import type { EngineDeps } from "../context.js";
import { snapshotOf } from "../deployed.js";
import type { EventSink } from "../events.js";
import { noopSink } from "../events.js";
import { runMigration, specOf, tail } from "./migrations.js";
import { configFor, withBackups } from "./catalog.js";

export interface DataRollbackStep {
  /** The revision whose data change is undone (newest first). */
  revision: number;
  version: string;
  service: string;
  action: "down" | "restore";
  /** restore: the backup taken before `revision` deployed. */
  backupId?: string;
  backupService?: string;
  /** Set when the step cannot be done (no down command and no backup recorded). */
  problem?: string;
}

export interface DataRollbackPlan {
  target: number;
  /** Undo the recorded migrations (a rollback without --with-db warns about these). */
  steps: DataRollbackStep[];
  /**
   * Return the backed-up services to the target's data when no migration is undone by a down
   * command: the backups recorded by the deploy that replaced the target (run after `steps`).
   */
  restores: DataRollbackStep[];
}

/**
 * What returning the data to `target` takes: for every revision after it that recorded a
 * migration (newest first), each migrated service's `migrate.down` from that revision's release,
 * or, without one, the backup recorded before that revision deployed. Revisions whose data an
 * earlier `--with-db` rollback already returned are skipped.
 *
 * Unless a down-migration is part of it (whoever declares `migrate.down` wants the data written
 * since kept), every backed-up service also goes back to the data the target left: the backup
 * recorded by the deploy that replaced the target (the first later revision that did not fail),
 * unless a restore of an older revision's backup already covers that service.
 */
export function planDataRollback(revisions: Revision[], target: Revision): DataRollbackPlan {
  const newer = revisions.filter((r) => r.number > target.number).sort((a, b) => b.number - a.number);
  const undone = new Set<number>();
  for (const r of newer) {
    const d = r.facts.dataRollback;
    for (const n of d?.revisions ?? []) undone.add(n);
  }
  const steps: DataRollbackStep[] = [];
  for (const r of newer) {
    const migrated = r.facts.migrations;
    if (!migrated || undone.has(r.number)) continue;
    const snap = snapshotOf(r);
    const backups = r.facts.backups ?? {};
    for (const name of Object.keys(migrated)) {
      const base = { revision: r.number, version: r.version, service: name };
      if (snap.services?.[name]?.migrate?.down) {
        steps.push({ ...base, action: "down" });
        continue;
      }
      const own = backups[name];
      const recorded = own ? [[name, own]] : Object.entries(backups);
      if (!recorded.length) {
        steps.push({
          ...base,
          action: "restore",
          problem: `revision ${r.number} ran migrations of ${name}, which has no migrate.down, and no backup was recorded before it deployed`,
        });
        continue;
      }
      for (const [svc, id] of recorded)
        steps.push({ ...base, action: "restore", backupId: id, backupService: svc });
    }
  }
  return { target: target.number, steps, restores: replacingRestores(newer, undone, steps) };
}

/** The restores that return backed-up services to the data of the revision `newer` replaced. */
function replacingRestores(
  newer: Revision[],
  undone: Set<number>,
  steps: DataRollbackStep[],
): DataRollbackStep[] {
  if (steps.some((s) => s.action === "down")) return [];
  // Oldest first: the first later revision that went live (a failed one left the target serving).
  const replacing = [...newer].reverse().find((r) => r.status !== "failed" && r.status !== "in-progress");
  if (!replacing || undone.has(replacing.number)) return [];
  const backups = replacing.facts.backups ?? {};
  return Object.entries(backups)
    .filter(([svc]) => !steps.some((s) => s.backupService === svc && s.revision <= replacing.number))
    .map(([svc, id]) => ({
      revision: replacing.number,
      version: replacing.version,
      service: svc,
      action: "restore" as const,
      backupId: id,
      backupService: svc,
    }));
}

/** The warning of a rollback across migrations without --with-db: what the data needs, as commands. */
export function dataRollbackAdvice(env: string, plan: DataRollbackPlan): string {
  const revs = [...new Set(plan.steps.map((s) => s.revision))];
  const lines = [
    `revision${revs.length > 1 ? "s" : ""} ${revs.join(", ")} ran database migrations; this rollback returns the code only, the data stays as it is.`,
    `To return the data as well, roll back with: slipway rollback ${env} ${plan.target} --with-db`,
    `or, after this rollback, run:`,
  ];
  const seen = new Set<string>();
  for (const s of plan.steps) {
    const cmd =
      s.action === "down"
        ? `slipway migrate ${env} down ${s.service} --revision ${s.revision}`
        : s.backupId
          ? `slipway restore ${env} ${s.backupId}`
          : `# ${s.problem}`;
    if (!seen.has(cmd)) lines.push(`  ${cmd}`);
    seen.add(cmd);
  }
  return lines.join("\n");
}

/**
 * Return the data before the code of a rollback: down-migrations (from the newer release) or
 * restores, newest revision first. Anything impossible is reported before anything runs; a
 * failure stops here, before the code moves.
 */
export async function rollbackData(
  deps: EngineDeps,
  resolution: Resolution,
  revisions: Revision[],
  plan: DataRollbackPlan,
  opts: { emit?: EventSink; signal?: AbortSignal } = {},
): Promise<{ revisions: number[]; steps: (DataRollbackStep & { result: string })[] }> {
  const emit = opts.emit ?? noopSink;
  const cur = resolution.spec;
  const impossible = plan.steps.filter((s) => s.problem);
  if (impossible.length)
    throw new OperationFailed(
      `cannot return the data to revision ${plan.target}: ${impossible.map((s) => s.problem).join("; ")} (nothing was changed; roll back without --with-db to move the code only)`,
    );
  const all = [...plan.steps, ...plan.restores];
  if (!all.length) {
    emit({
      type: "log",
      level: "info",
      message: `no migration recorded after revision ${plan.target} and no backup recorded by the deploy that replaced it: the data stays as it is`,
    });
    return { revisions: [], steps: [] };
  }
  const byNumber = new Map(revisions.map((r) => [r.number, r]));
  const done: (DataRollbackStep & { result: string })[] = [];
  const restored = new Set<string>();
  await withBackups(deps, async (b) => {
    for (const s of all) {
      const rev = byNumber.get(s.revision) as Revision;
      if (s.action === "down") {
        const svc = specOf(rev, resolution).services[s.service];
        emit({
          type: "log",
          level: "info",
          service: s.service,
          message: `${s.service}: migrate down (revision ${rev.number}, ${rev.version})`,
        });
        const r = await runMigration(deps, resolution, rev, svc, "down", { signal: opts.signal });
        if (r.exitCode !== 0)
          throw new OperationFailed(
            `${s.service}: the down-migration of revision ${rev.number} failed (exit ${r.exitCode}); the code was not rolled back${r.output.trim() ? `\n${tail(r.output)}` : ""}`,
          );
        done.push({ ...s, result: "down-migration applied" });
        emit({
          type: "log",
          level: "info",
          service: s.service,
          status: "ok",
          message: `${s.service}: down-migration of revision ${rev.number} applied`,
        });
        continue;
      }
      const id = s.backupId as string;
      if (restored.has(id)) continue;
      const rec = b.get(id);
      if (!rec)
        throw new OperationFailed(
          `backup ${id} recorded for revision ${rev.number} no longer exists (pruned?)`,
        );
      const config = configFor(cur, rec) ?? configFor(specOf(rev, resolution), rec);
      emit({
        type: "log",
        level: "info",
        service: rec.service,
        message: `${rec.service}: restoring ${id}, taken before revision ${rev.number} deployed`,
      });
      try {
        await b.restore(id, config ? { config } : {});
      } catch (e) {
        throw new OperationFailed(`${errorMessage(e)}; the code was not rolled back`);
      }
      restored.add(id);
      done.push({ ...s, result: `restored ${id}` });
      emit({
        type: "log",
        level: "info",
        status: "ok",
        service: rec.service,
        message: `${rec.service}: restored ${id}`,
      });
    }
  });
  return { revisions: [...new Set(all.map((s) => s.revision))], steps: done };
}

/** Keep in the rollback revision what the data rollback did (a later rollback skips it). */
export async function recordDataRollback(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  data: { revisions: number[]; steps: unknown[] },
): Promise<void> {
  const rev = await deps.store.getRevision(spec.project, spec.env, revision);
  if (!rev) return;
  await deps.store.updateRevision(spec.project, spec.env, revision, {
    facts: { ...rev.facts, dataRollback: data },
  });
}
