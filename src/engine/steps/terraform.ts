/**
 * `terraform`: apply exactly the plan file the deploy made and showed (engine/infra/terraform.ts).
 * Infrastructure goes forward only: a later failure rolls back the services, not this step.
 */
import { rmSync } from "node:fs";
import { OperationFailed } from "../../errors.js";
import { fingerprints } from "../carry.js";
import { pendingServices, substituteOutputs } from "../infra/outputs.js";
import { describeSummary, terraformApply, terraformOutputs } from "../infra/terraform.js";
import type { StepRunner } from "./step.js";

export const terraformStep: StepRunner = {
  async run(step, ctx) {
    const plan = step.infra;
    const t = ctx.spec.infrastructure?.find((i) => i.terraform.name === plan?.name)?.terraform;
    if (!plan || !t) throw new OperationFailed(`infrastructure step ${plan?.name ?? "?"} is not in the spec`);
    const changes = plan.add + plan.change + plan.destroy > 0;
    if (changes) await terraformApply(t, plan.planFile, ctx.signal);
    else rmSync(plan.planFile, { force: true });
    // The later services get the outputs as they are now (some were only known after the apply).
    const outputs = await terraformOutputs(t, ctx.signal);
    const waiting = pendingServices(ctx.spec);
    const filled = substituteOutputs(ctx.spec, outputs);
    ctx.spec = filled.spec;
    // Their fingerprints were taken with the placeholder: the next deploy compares the values.
    const fps = ctx.facts.fingerprints as Record<string, string> | undefined;
    if (fps && waiting.length) Object.assign(fps, await fingerprints(ctx.deps, ctx.spec, waiting));
    ctx.facts.tfOutputs = { ...(ctx.facts.tfOutputs as Record<string, unknown> | undefined), ...outputs };
    if (!changes) return `${describeSummary(plan)}: nothing to apply`;
    const done = (ctx.facts.terraform as unknown[] | undefined) ?? [];
    ctx.facts.terraform = [
      ...done,
      {
        name: plan.name,
        workspace: plan.workspace,
        add: plan.add,
        change: plan.change,
        destroy: plan.destroy,
      },
    ];
    return `applied: ${describeSummary(plan)}`;
  },
};
