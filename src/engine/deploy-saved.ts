/**
 * `slipway plan ENV --out FILE` and `slipway deploy ENV --plan FILE`: the plan a person reviewed,
 * applied exactly (infra/saved-plan.ts holds the document). A deploy of a saved plan refuses
 * (exit 4, naming what moved) when the release, the spec, the deployed revision, the serving
 * instances, a Terraform configuration or state changed since the plan was made, or when the
 * file is damaged; otherwise it runs that plan with those Terraform plan files.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { Refused } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineDeps } from "./context.js";
import { terraformStateMeta, planFileFor, type TerraformSummary } from "./infra/terraform.js";
import {
  changedKeys,
  configDigest,
  encodePlanFile,
  openSaved,
  SAVED_PLAN_FORMAT,
  seal,
  specParts,
  type SavedOptions,
  type SavedPlan,
  type SavedTerraform,
} from "./infra/saved-plan.js";
import type { Plan, PlanStep } from "./plan.js";
import { isWarm } from "./warm.js";

/** What engine/deploy.ts planDeploy gives (passed in: deploy.ts imports this file). */
interface Planned {
  plan: Plan;
  fingerprints: Record<string, string>;
  infra: TerraformSummary[];
}
type PlanFn<P extends Planned> = (
  deps: EngineDeps,
  resolution: Resolution,
  opts: SavedOptions & { infra?: { saved?: TerraformSummary[]; tag?: string } },
) => Promise<P>;

/** Service → its (non-warm) instances' ids, sorted. */
async function instanceIds(deps: EngineDeps, spec: ResolvedSpec): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const i of await deps.store.listInstances(spec.project, spec.env))
    if (!isWarm(i)) (out[i.service] ??= []).push(i.id);
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

async function revisionsNow(deps: EngineDeps, spec: ResolvedSpec) {
  const [current, revs] = await Promise.all([
    deps.store.currentRevision(spec.project, spec.env),
    deps.store.listRevisions(spec.project, spec.env, { limit: 1 }),
  ]);
  return { current, last: revs[0]?.number ?? 0 };
}

const stepOf = (s: PlanStep) => ({
  seq: s.seq,
  kind: s.kind,
  service: s.service,
  group: s.group,
  change: s.change,
  description: s.description,
});

/** `plan --out`: the plan, its Terraform plan files and what it was made against, sealed. */
export async function savePlan(
  deps: EngineDeps,
  resolution: Resolution,
  options: SavedOptions,
  planDeploy: PlanFn<Planned>,
): Promise<SavedPlan> {
  const spec = resolution.spec;
  const was = await revisionsNow(deps, spec);
  const instances = await instanceIds(deps, spec);
  const tag = `saved-${randomBytes(4).toString("hex")}`;
  const planned = await planDeploy(deps, resolution, { ...options, infra: { tag } });
  const terraform: SavedTerraform[] = [];
  try {
    for (const s of planned.infra) {
      const step = spec.infrastructure!.find((i) => i.terraform.name === s.name)!.terraform;
      terraform.push({
        name: s.name,
        summary: { ...s, planFile: "" },
        ...encodePlanFile(s.planFile),
        state: await terraformStateMeta(step),
        config: configDigest(step.dir),
      });
    }
  } finally {
    for (const s of planned.infra) rmSync(s.planFile, { force: true });
  }
  const plan = {
    ...planned.plan,
    steps: planned.plan.steps.map((s) => (s.infra ? { ...s, infra: { ...s.infra, planFile: "" } } : s)),
  };
  return seal({
    format: SAVED_PLAN_FORMAT,
    createdAt: new Date().toISOString(),
    actor: deps.actor,
    project: spec.project,
    env: spec.env,
    version: spec.version,
    options,
    madeAgainst: { currentRevision: was.current?.number ?? null, lastRevision: was.last, instances },
    specParts: specParts(deps.home, spec),
    fingerprints: planned.fingerprints,
    plan,
    terraform,
  });
}

const moved = (what: string) =>
  new Refused(
    `${what}: the saved plan no longer applies; make and review a new one (slipway plan ENV --out FILE)`,
  );

function checkIdentity(saved: SavedPlan, spec: ResolvedSpec): void {
  if (saved.project !== spec.project || saved.env !== spec.env)
    throw new Refused(`the plan was made for ${saved.project} ${saved.env}, not ${spec.project} ${spec.env}`);
  if (saved.version !== spec.version)
    throw new Refused(
      `the plan was made for release ${saved.version}, this deploy is ${spec.version} ` +
        `(leave out --version to deploy the plan's release)`,
    );
}

async function checkRevisions(deps: EngineDeps, saved: SavedPlan, spec: ResolvedSpec): Promise<void> {
  const now = await revisionsNow(deps, spec);
  const then = saved.madeAgainst;
  const cur = now.current?.number ?? null;
  if (cur !== then.currentRevision)
    throw moved(
      `${spec.env} moved since the plan was made: ${then.currentRevision ? `revision ${then.currentRevision}` : "nothing"} ` +
        `was deployed then, now ${now.current ? `revision ${cur} (${now.current.version}, by ${now.current.actor})` : "nothing"}`,
    );
  if (now.last !== then.lastRevision)
    throw moved(`${spec.env} moved since the plan was made: revision ${now.last} was attempted since`);
}

/** The Terraform plan files written back for the apply; refused when a configuration or state moved. */
async function restoreTerraform(
  deps: EngineDeps,
  saved: SavedPlan,
  spec: ResolvedSpec,
): Promise<TerraformSummary[]> {
  const out: TerraformSummary[] = [];
  const tag = `apply-${randomBytes(4).toString("hex")}`;
  for (const { terraform: step } of spec.infrastructure ?? []) {
    const t = saved.terraform.find((x) => x.name === step.name);
    if (!t) throw moved(`the spec changed since the plan was made: infrastructure ${step.name} is new`);
    const files = changedKeys(t.config, configDigest(step.dir));
    if (files.length)
      throw moved(
        `${step.name}: its Terraform configuration changed since the plan was made (${files.join(", ")})`,
      );
    const state = await terraformStateMeta(step);
    const desc = (s: SavedTerraform["state"]) => (s ? `serial ${s.serial}` : "no state");
    if (state?.serial !== t.state?.serial || state?.lineage !== t.state?.lineage)
      throw moved(
        `${step.name}: the Terraform state changed since the plan was made (${desc(t.state)} then, ${desc(state)} now): the plan is stale`,
      );
    const planFile = planFileFor(deps.home, spec, step.name, tag);
    writeFileSync(planFile, Buffer.from(t.file, "base64"), { mode: 0o600 });
    out.push({ ...t.summary, planFile });
  }
  return out;
}

function compareInstances(then: Record<string, string[]>, now: Record<string, string[]>): void {
  const diff = [...new Set([...Object.keys(then), ...Object.keys(now)])]
    .filter((n) => (then[n] ?? []).join() !== (now[n] ?? []).join())
    .sort()
    .map((n) => {
      const [a, b] = [then[n]?.length ?? 0, now[n]?.length ?? 0];
      return a === b ? `${n} (instances replaced)` : `${n} (${a} → ${b} instances)`;
    });
  if (diff.length) throw moved(`the running services changed since the plan was made: ${diff.join(", ")}`);
}

function compareSteps(saved: PlanStep[], now: PlanStep[]): void {
  const a = saved.map((s) => JSON.stringify(stepOf(s)));
  const b = now.map((s) => JSON.stringify(stepOf(s)));
  const diff: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && diff.length < 3; i++)
    if (a[i] !== b[i])
      diff.push(
        `step ${i + 1}: planned "${saved[i]?.description ?? "(none)"}", now "${now[i]?.description ?? "(none)"}"`,
      );
  if (diff.length) throw moved(`the plan would differ now: ${diff.join("; ")}`);
}

/**
 * A saved plan checked against the world under the deploy's lock, and planned again with its own
 * Terraform plan files and options: the result is the plan the file holds (refused otherwise).
 */
export async function checkSaved<P extends Planned>(
  deps: EngineDeps,
  resolution: Resolution,
  raw: unknown,
  planDeploy: PlanFn<P>,
): Promise<P & { saved: SavedPlan }> {
  const saved = openSaved(raw);
  const spec = resolution.spec;
  checkIdentity(saved, spec);
  await checkRevisions(deps, saved, spec);
  const parts = changedKeys(saved.specParts, specParts(deps.home, spec));
  if (parts.length) throw moved(`the spec changed since the plan was made: ${parts.join(", ")}`);
  const infra = await restoreTerraform(deps, saved, spec);
  try {
    const planned = await planDeploy(deps, resolution, { ...saved.options, infra: { saved: infra } });
    const sources = changedKeys(saved.fingerprints, planned.fingerprints);
    if (sources.length)
      throw moved(
        `the source of ${sources.join(", ")} changed since the plan was made (image or release files)`,
      );
    compareInstances(saved.madeAgainst.instances, await instanceIds(deps, spec));
    compareSteps(saved.plan.steps, planned.plan.steps);
    return { ...planned, saved };
  } catch (e) {
    for (const s of infra) rmSync(s.planFile, { force: true });
    throw e;
  }
}
