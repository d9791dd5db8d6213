/**
 * The real `terraform` CLI (on PATH, or $SLIPWAY_TERRAFORM): init, workspace, `plan -out` and
 * `show -json` for the summary a plan shows, `apply` of exactly that plan file, `output -json`.
 * Input variables go through a -var-file written 0600 and removed after each command.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OperationFailed, Refused, UsageError } from "../../errors.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { TerraformStepSpec } from "../../spec/schema-infra.js";
import { parseDuration } from "../../util/units.js";
import { runCommand } from "../../util/command.js";

export type TerraformStep = TerraformStepSpec & { name: string };

/** What a plan does, as `slipway plan` shows it. */
export interface TerraformSummary {
  name: string;
  dir: string;
  workspace: string;
  add: number;
  change: number;
  destroy: number;
  /** Addresses of the resources the plan destroys (or replaces). */
  destroys: string[];
  /** The plan file `deploy` applies. */
  planFile: string;
  /** Outputs whose values the plan knows (non-sensitive); the others only after apply. */
  outputs: Record<string, unknown>;
  unknownOutputs: string[];
  sensitiveOutputs: string[];
}

const bin = () => process.env.SLIPWAY_TERRAFORM || "terraform";

async function tf(step: TerraformStep, args: string[], signal?: AbortSignal): Promise<string> {
  const timeoutMs = (step.timeout && parseDuration(step.timeout)) || 600_000;
  const r = await runCommand(bin(), args, {
    cwd: step.dir,
    env: { ...process.env, TF_IN_AUTOMATION: "1", TF_INPUT: "0" },
    timeoutMs,
    signal,
    group: true,
    maxStdout: Number.POSITIVE_INFINITY,
  });
  if (r.error?.code === "ENOENT")
    throw new UsageError(
      process.env.SLIPWAY_TERRAFORM
        ? `terraform not found at SLIPWAY_TERRAFORM=${process.env.SLIPWAY_TERRAFORM}: needed by ${step.name}`
        : `terraform is not installed (not on PATH; set SLIPWAY_TERRAFORM): needed by ${step.name}`,
    );
  if (r.code !== 0 && /Saved plan is stale|Saved plan does not match/.test(r.stderr))
    throw new Refused(
      `terraform refuses the saved plan of ${step.name}: its state was changed by another operation after ` +
        `the plan was made (a stale plan); make a new one with \`slipway plan ENV --out FILE\``,
    );
  if (r.code !== 0)
    throw new OperationFailed(
      `terraform ${args[0]} in ${step.dir} failed${r.ended ? ` (${r.ended})` : ""}: ${r.stderr.trim().split("\n").slice(-8).join("\n") || r.output.slice(-800)}`,
    );
  return r.stdout;
}

/** Where a step's plan file and var-file live: SLIPWAY_HOME/terraform/<project>/<env>/. */
function workDir(home: string, spec: ResolvedSpec): string {
  const d = join(home, "terraform", spec.project, spec.env);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

async function withVars<T>(dir: string, step: TerraformStep, fn: (args: string[]) => Promise<T>): Promise<T> {
  if (!step.vars || !Object.keys(step.vars).length) return fn([]);
  const file = join(dir, `${step.name}.tfvars.json`);
  writeFileSync(file, JSON.stringify(step.vars), { mode: 0o600 });
  try {
    return await fn([`-var-file=${file}`]);
  } finally {
    rmSync(file, { force: true });
  }
}

async function prepareDir(step: TerraformStep, signal?: AbortSignal): Promise<void> {
  await tf(step, ["init", "-input=false", "-no-color"], signal);
  const ws = step.workspace ?? "default";
  await tf(step, ["workspace", "select", "-or-create=true", "-no-color", ws], signal);
}

interface PlanJson {
  resource_changes?: { address: string; change: { actions: string[] } }[];
  planned_values?: { outputs?: Record<string, { sensitive?: boolean; value?: unknown }> };
  output_changes?: Record<string, { after_unknown?: unknown; after_sensitive?: unknown }>;
}

export async function terraformPlan(
  home: string,
  spec: ResolvedSpec,
  step: TerraformStep,
  signal?: AbortSignal,
  /** A distinct plan file name (a saved plan's), instead of the deploy's own. */
  tag?: string,
): Promise<TerraformSummary> {
  const dir = workDir(home, spec);
  const planFile = join(dir, `${step.name}${tag ? `.${tag}` : ""}.tfplan`);
  await prepareDir(step, signal);
  await withVars(dir, step, (vars) =>
    tf(step, ["plan", "-input=false", "-no-color", "-lock-timeout=60s", `-out=${planFile}`, ...vars], signal),
  );
  const shown = JSON.parse(await tf(step, ["show", "-json", "-no-color", planFile], signal)) as PlanJson;
  const sum = { add: 0, change: 0, destroy: 0, destroys: [] as string[] };
  for (const rc of shown.resource_changes ?? []) {
    const a = rc.change.actions;
    if (a.includes("create")) sum.add++;
    if (a.includes("update")) sum.change++;
    if (a.includes("delete")) {
      sum.destroy++;
      sum.destroys.push(rc.address);
    }
  }
  const outputs: Record<string, unknown> = {};
  const unknownOutputs: string[] = [];
  const sensitiveOutputs: string[] = [];
  for (const [n, o] of Object.entries(shown.planned_values?.outputs ?? {})) {
    if (o.sensitive) sensitiveOutputs.push(n);
    else if ("value" in o) outputs[n] = o.value;
  }
  for (const [n, c] of Object.entries(shown.output_changes ?? {}))
    if (c.after_unknown === true && !sensitiveOutputs.includes(n)) unknownOutputs.push(n);
  return {
    name: step.name,
    dir: step.dir,
    workspace: step.workspace ?? "default",
    ...sum,
    planFile,
    outputs,
    unknownOutputs,
    sensitiveOutputs,
  };
}

/** The state's identity a plan was made against (`terraform state pull`): null before the first apply. */
export async function terraformStateMeta(
  step: TerraformStep,
  signal?: AbortSignal,
): Promise<{ serial: number; lineage: string } | null> {
  await prepareDir(step, signal);
  const text = (await tf(step, ["state", "pull"], signal)).trim();
  if (!text) return null;
  const st = JSON.parse(text) as { serial?: number; lineage?: string };
  return { serial: st.serial ?? 0, lineage: st.lineage ?? "" };
}

/** A saved plan's file written back where the terraform step applies it from. */
export function planFileFor(home: string, spec: ResolvedSpec, name: string, tag: string): string {
  return join(workDir(home, spec), `${name}.${tag}.tfplan`);
}

/** Apply exactly the plan file (Terraform refuses it when the state moved since: a stale plan). */
export async function terraformApply(
  step: TerraformStep,
  planFile: string,
  signal?: AbortSignal,
): Promise<void> {
  await tf(step, ["apply", "-input=false", "-no-color", "-lock-timeout=60s", planFile], signal);
  rmSync(planFile, { force: true });
}

/** The applied state's outputs (non-sensitive ones; sensitive outputs never reach a spec). */
export async function terraformOutputs(
  step: TerraformStep,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const all = JSON.parse(await tf(step, ["output", "-json", "-no-color"], signal)) as Record<
    string,
    { sensitive?: boolean; value?: unknown }
  >;
  return Object.fromEntries(
    Object.entries(all)
      .filter(([, o]) => !o.sensitive)
      .map(([n, o]) => [n, o.value]),
  );
}

export function describeSummary(s: TerraformSummary): string {
  const ws = s.workspace === "default" ? "" : `, workspace ${s.workspace}`;
  const changes =
    s.add + s.change + s.destroy === 0
      ? "no changes"
      : `${s.add} to add, ${s.change} to change, ${s.destroy} to destroy${s.destroys.length ? ` (${s.destroys.join(", ")})` : ""}`;
  return `terraform ${s.name}${ws}: ${changes}`;
}
