/** A deploy's `infrastructure:` steps: planned with the deploy, applied first (steps/terraform.ts). */
import { Refused } from "../../errors.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { EngineDeps } from "../context.js";
import { terraformPlan, type TerraformSummary } from "./terraform.js";

export { pendingServices, withTerraformOutputs } from "./outputs.js";
export { describeSummary, type TerraformSummary } from "./terraform.js";

/** The plan of each infrastructure step, in order (the real `terraform plan -out`). */
export async function planInfrastructure(
  deps: EngineDeps,
  spec: ResolvedSpec,
  /** A saved plan's own file names (engine/deploy-saved.ts), instead of the deploy's. */
  tag?: string,
): Promise<TerraformSummary[]> {
  const out: TerraformSummary[] = [];
  for (const { terraform } of spec.infrastructure ?? [])
    out.push(await terraformPlan(deps.home, spec, terraform, undefined, tag));
  return out;
}

/** A protected environment's plan that destroys anything needs --allow-destroy (exit 4 otherwise). */
export function refuseDestroy(
  spec: ResolvedSpec,
  plans: TerraformSummary[],
  allowed: boolean | undefined,
): void {
  const destroying = plans.filter((p) => p.destroy > 0);
  if (!spec.protect?.confirm || !destroying.length || allowed) return;
  throw new Refused(
    `${spec.env} is protected and the terraform plan destroys ${destroying
      .map((p) => `${p.destroy} resource(s) in ${p.name} (${p.destroys.join(", ")})`)
      .join("; ")}: review it with \`slipway plan ${spec.env}\` and deploy with --allow-destroy`,
  );
}
