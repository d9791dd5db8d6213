/**
 * A runbook's `terraform:` step: `terraform plan -out`, then `apply` of exactly that plan file
 * (engine/infra/terraform.ts), the summary and outputs in the run report. A protected
 * environment's runbook does not apply a plan that destroys anything unless the step says
 * `allowDestroy: true` (a scheduled run has nobody to confirm it).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { RunbookStep } from "../../spec/schema-rules.js";
import type { EngineDeps } from "../context.js";
import {
  describeSummary,
  terraformApply,
  terraformOutputs,
  terraformPlan,
  type TerraformStep,
} from "../infra/terraform.js";

export interface TerraformOutcome {
  ok: boolean;
  evidence: string;
  details?: Record<string, unknown>;
}

/** The step's terraform block as the engine runs it: dir absolute, name and workspace set. */
export function runbookTerraform(
  spec: ResolvedSpec,
  t: NonNullable<RunbookStep["terraform"]>,
): TerraformStep {
  const dir = resolve(spec.dir, t.dir);
  return { ...t, dir, name: t.name ?? basename(dir), workspace: t.workspace ?? spec.env };
}

export async function terraformRunbookStep(
  deps: EngineDeps,
  spec: ResolvedSpec,
  s: RunbookStep,
  signal: AbortSignal,
): Promise<TerraformOutcome> {
  const step = runbookTerraform(spec, s.terraform!);
  const plan = await terraformPlan(
    deps.home,
    spec,
    step,
    signal,
    `runbook-${randomBytes(4).toString("hex")}`,
  );
  const summary = {
    name: plan.name,
    workspace: plan.workspace,
    add: plan.add,
    change: plan.change,
    destroy: plan.destroy,
    destroys: plan.destroys,
  };
  try {
    if (plan.destroy > 0 && spec.protect?.confirm && !s.allowDestroy)
      return {
        ok: false,
        evidence:
          `not applied: ${describeSummary(plan)}; ${spec.env} is protected and the step does not say ` +
          `allowDestroy: true`,
        details: { terraform: { ...summary, applied: false } },
      };
    const changes = plan.add + plan.change + plan.destroy > 0;
    if (changes) await terraformApply(step, plan.planFile, signal);
    const outputs = await terraformOutputs(step, signal);
    return {
      ok: true,
      evidence: changes ? `applied: ${describeSummary(plan)}` : `${describeSummary(plan)}: nothing to apply`,
      details: { terraform: { ...summary, applied: changes, outputs } },
    };
  } finally {
    rmSync(plan.planFile, { force: true });
  }
}
