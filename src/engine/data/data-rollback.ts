/**
 * The data half of `slipway rollback --with-db`: what returning the data to a revision takes
 * (down-migrations or backup restores), the advice when it is not asked for, and doing it.
 */
import { errorMessage, OperationFailed } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { RestorePhase } from "../../backup/index.js";
import type { DataRollbackFacts, Revision } from "../../store/store.js";
import type { EngineDeps } from "../context.js";
import { snapshotOf } from "../deployed.js";
import type { EventSink } from "../events.js";
import { noopSink } from "../events.js";
import type { DataStep } from "../plan.js";
import { runMigration, specOf, tail } from "./migrations.js";
import { configFor, withBackups } from "./catalog.js";

/** One data step of a rollback --with-db (newest revision first). */
export type DataRollbackStep = DataStep;

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
  // Releases only: a restore recorded in the history moved no code and ran no migration.
  const newer = revisions
    .filter((r) => r.number > target.number && r.facts.operation === undefined)
    .sort((a, b) => b.number - a.number);
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

/** A rollback --with-db refuses before anything runs when part of the data cannot go back. */
export function refuseImpossible(plan: DataRollbackPlan): void {
  const impossible = plan.steps.filter((s) => s.problem);
  if (impossible.length)
    throw new OperationFailed(
      `cannot return the data to revision ${plan.target}: ${impossible.map((s) => s.problem).join("; ")} (nothing was changed; roll back without --with-db to move the code only)`,
    );
}

/** The data steps in the order they run: down-migrations and restores, each backup restored once. */
export function dataSteps(plan: DataRollbackPlan): DataRollbackStep[] {
  const seen = new Set<string>();
  return [...plan.steps, ...plan.restores].filter((s) => {
    if (!s.backupId) return true;
    if (seen.has(s.backupId)) return false;
    seen.add(s.backupId);
    return true;
  });
}

/** What a data step of the plan needs beyond the run: the operation's resolution, the revisions. */
export interface DataRollbackContext {
  /** The resolution the rollback was asked with (its secrets; its spec's backup credentials). */
  from: Resolution;
  revisions: Revision[];
}

function revisionOf(ctx: DataRollbackContext, n: number): Revision {
  const rev = ctx.revisions.find((r) => r.number === n);
  if (!rev) throw new OperationFailed(`revision ${n} is no longer recorded`);
  return rev;
}

/** A step `migrate-down`: revision `n`'s `migrate.down` of `service`, from that revision's release. */
export async function undoMigration(
  deps: EngineDeps,
  ctx: DataRollbackContext,
  n: number,
  service: string,
  opts: { emit?: EventSink; signal?: AbortSignal } = {},
): Promise<string> {
  const emit = opts.emit ?? noopSink;
  const rev = revisionOf(ctx, n);
  const svc = specOf(rev, ctx.from).services[service];
  emit({
    type: "log",
    level: "info",
    service,
    message: `${service}: migrate down (revision ${rev.number}, ${rev.version})`,
  });
  const r = await runMigration(deps, ctx.from, rev, svc, "down", { signal: opts.signal });
  if (r.exitCode !== 0)
    throw new OperationFailed(
      `${service}: the down-migration of revision ${rev.number} failed (exit ${r.exitCode}); the code was not rolled back${r.output.trim() ? `\n${tail(r.output)}` : ""}`,
    );
  return `down-migration of revision ${rev.number} applied`;
}

/**
 * A step `restore`: the backup `id`, recorded by revision `n`, swapped into its service. The data
 * it replaces is kept aside (`mark` journals the token and phase) until the rollback ends: run.ts
 * drops it when the rollback deploys, or swaps it back when the rollback fails (recovery too).
 */
export async function restoreRecorded(
  deps: EngineDeps,
  ctx: DataRollbackContext,
  n: number,
  id: string,
  emit: EventSink = noopSink,
  mark?: (m: { backup: string; token: string; phase: RestorePhase }) => Promise<void>,
): Promise<string> {
  const rev = revisionOf(ctx, n);
  await withBackups(deps, async (b) => {
    const rec = await b.get(id);
    if (!rec)
      throw new OperationFailed(
        `backup ${id} recorded for revision ${rev.number} no longer exists (pruned?)`,
      );
    const config = configFor(ctx.from.spec, rec) ?? configFor(specOf(rev, ctx.from), rec);
    emit({
      type: "log",
      level: "info",
      service: rec.service,
      message: `${rec.service}: restoring ${id}, taken before revision ${rev.number} deployed`,
    });
    const { newRestoreToken } = await import("../../backup/index.js");
    const token = newRestoreToken();
    try {
      await b.restore(id, {
        ...(config ? { config } : {}),
        token,
        keepPrevious: true,
        phase: async (phase) => mark?.({ backup: id, token, phase }),
      });
    } catch (e) {
      throw new OperationFailed(`${errorMessage(e)}; the code was not rolled back`);
    }
  });
  return `restored ${id}`;
}

/** Keep in the run's facts what the data rollback did (a later rollback skips those revisions). */
export function recordDataStep(
  facts: { dataRollback?: DataRollbackFacts },
  plan: { revision?: number; service?: string; action: string },
  result: string,
): void {
  const d = facts.dataRollback ?? { revisions: [], steps: [] };
  const revisions = new Set(d.revisions ?? []);
  if (plan.revision !== undefined) revisions.add(plan.revision);
  facts.dataRollback = { revisions: [...revisions], steps: [...(d.steps ?? []), { ...plan, result }] };
}
