/**
 * Crash recovery of restores: a `slipway restore` (a revision row with facts.operation
 * "restore") and the restore steps of a `rollback --with-db`. The journal says how far the staged
 * restore got and the token names its staged data; the provider's settle finishes it or undoes
 * it and says which data is live.
 */
import type { RestoreSide } from "../backup/index.js";
import { errorMessage } from "../errors.js";
import type { JournalStep, Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { configFor, withBackups } from "./data/catalog.js";
import { MissingVariables, snapshotOf } from "./deployed.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { rehydrateChecked } from "../spec/snapshot.js";

export interface RestoreOutcome {
  number: number;
  outcome: "completed" | "rolled-back";
  message: string;
}

/** What a data step of a rollback records while it restores (its journal step's data). */
export interface RestoreMark {
  backup: string;
  token: string;
  phase: "stage" | "swap" | "settle";
}

/** Settle one interrupted restore by its token, with the credentials the revision recorded. */
export async function settleRestore(
  deps: EngineDeps,
  rev: Revision,
  backup: string,
  token: string,
  want: RestoreSide,
): Promise<RestoreSide> {
  return withBackups(deps, async (b) => {
    const rec = await b.get(backup);
    if (!rec) throw new Error(`backup ${backup} is no longer in the catalog`);
    const config = configFor(serviceSpec(rev, rec.service), rec);
    return b.settle(backup, { ...(config ? { config } : {}), token, want });
  });
}

/**
 * The revision's spec reduced to one service and re-hydrated strictly (its env files and recorded
 * values only, never this process's environment): settling a restore needs that service's
 * backup credentials, not every variable of the environment (alert channels, other services).
 */
function serviceSpec(rev: Revision, service: string): ResolvedSpec {
  const snap = snapshotOf(rev);
  const one = { ...snap, services: { [service]: snap.services[service] }, checks: [], schedules: [] };
  delete (one as { alerts?: unknown }).alerts;
  const { value, missing } = rehydrateChecked(one, {});
  if (missing.length) throw new MissingVariables(rev, missing);
  return value;
}

const started = (s: JournalStep | undefined) => !!s && s.status !== "pending";

/** An interrupted `slipway restore`: finish it when it reached the swap, else keep the old data. */
export async function recoverRestore(
  deps: EngineDeps,
  rev: Revision,
  journal: JournalStep[],
): Promise<RestoreOutcome> {
  const r = rev.facts.restore;
  if (!r) throw new Error(`revision ${rev.number} records a restore without its backup`);
  const swap = journal.find((s) => s.kind === "restore-swap");
  const want: RestoreSide = started(swap) ? "new" : "old";
  let side: RestoreSide;
  try {
    side = await settleRestore(deps, rev, r.backup, r.token, want);
  } catch (e) {
    await deps.store.updateRevision(rev.project, rev.env, rev.number, {
      status: "failed",
      finishedAt: new Date().toISOString(),
      reason: `interrupted; recovery could not settle it (${errorMessage(e)}): the staged data is left under token ${r.token}`,
    });
    return {
      number: rev.number,
      outcome: "rolled-back",
      message: `recovery could not settle the restore of ${r.service} from ${r.backup}: ${errorMessage(e)}`,
    };
  }
  const message =
    side === "new"
      ? `${r.service} holds the backup's data (${r.backup}); the restore was finished`
      : `${r.service} holds its data as it was before the restore (${r.backup} was not applied)`;
  await deps.store.updateRevision(rev.project, rev.env, rev.number, {
    status: side === "new" ? "completed" : "failed",
    finishedAt: new Date().toISOString(),
    reason: `interrupted; ${message}`,
  });
  return { number: rev.number, outcome: side === "new" ? "completed" : "rolled-back", message };
}

/** The restore steps of a rollback --with-db that swapped data in or were cut while staging. */
export function restoreMarks(journal: JournalStep[]): RestoreMark[] {
  return journal
    .map((s) => (s.data as { restore?: RestoreMark } | undefined)?.restore)
    .filter((m): m is RestoreMark => !!m?.token);
}

/**
 * Settle every restore of a rollback --with-db: "new" when the rollback completes, "old" when it
 * is undone (the data set aside goes back: code and data move together). Returns one line each.
 */
export async function settleRollbackRestores(
  deps: EngineDeps,
  rev: Revision,
  marks: RestoreMark[],
  want: RestoreSide,
): Promise<string[]> {
  const out: string[] = [];
  for (const m of marks) {
    // A restore cut before its swap never had the new data complete.
    const w: RestoreSide = m.phase === "stage" ? "old" : want;
    try {
      const side = await settleRestore(deps, rev, m.backup, m.token, w);
      out.push(`${m.backup}: ${side === "new" ? "the backup's data is live" : "the data before it is live"}`);
    } catch (e) {
      out.push(`${m.backup}: could not settle (${errorMessage(e)}); staged data left under token ${m.token}`);
    }
  }
  return out;
}

/** settleRollbackRestores for a revision by its number (run.ts: at its end, either way). */
export async function settleRunRestores(
  deps: EngineDeps,
  project: string,
  env: string,
  revision: number,
  want: RestoreSide,
): Promise<string[]> {
  const marks = restoreMarks(await deps.store.journal(project, env, revision));
  if (!marks.length) return [];
  const rev = await deps.store.getRevision(project, env, revision);
  return rev ? settleRollbackRestores(deps, rev, marks, want) : [];
}
