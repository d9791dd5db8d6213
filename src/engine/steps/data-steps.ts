/**
 * `migrate-down` and `restore`: the data half of a rollback --with-db, run one at a time before
 * the code moves (plan() puts them first). What each did goes to facts.dataRollback, so a later
 * rollback does not undo the same revision twice.
 */
import { OperationFailed } from "../../errors.js";
import { recordDataStep, restoreRecorded, undoMigration } from "../data/data-rollback.js";
import type { DataStep, PlanStep } from "../plan.js";
import type { StepContext, StepRunner } from "./step.js";

function dataOf(step: PlanStep, ctx: StepContext) {
  const d: DataStep | undefined = step.data;
  const from = ctx.opts.dataRollback;
  if (!d || !from) throw new OperationFailed(`step ${step.seq} (${step.kind}) has no data rollback to run`);
  if (d.problem) throw new OperationFailed(d.problem);
  return { d, from };
}

export const migrateDownStep: StepRunner = {
  async run(step, ctx) {
    const { d, from } = dataOf(step, ctx);
    const result = await undoMigration(ctx.deps, from, d.revision, d.service, {
      emit: ctx.emit,
      signal: ctx.signal,
    });
    recordDataStep(ctx.facts, d, "down-migration applied");
    return result;
  },
};

export const restoreStep: StepRunner = {
  async run(step, ctx) {
    const { d, from } = dataOf(step, ctx);
    const { deps, spec, revision } = ctx;
    const result = await restoreRecorded(deps, from, d.revision, d.backupId as string, ctx.emit, (restore) =>
      deps.store.journalUpdate(spec.project, spec.env, revision, step.seq, { data: { restore } }),
    );
    recordDataStep(ctx.facts, d, result);
    return result;
  },
};
