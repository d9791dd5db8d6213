/** `slipway deploy` and `plan`: the plan of a resolved spec against what runs, then run it. */
import { rmSync } from "node:fs";
import { createCheckRunner, type CheckSpec } from "../checks/index.js";
import { UsageError } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { servicesOfGroups } from "../spec/groups.js";
import { fingerprints as fingerprintServices, unchangedServices } from "./carry.js";
import type { EngineDeps } from "./context.js";
import { noopSink, type EventSink } from "./events.js";
import { locked } from "./locked.js";
import { plan as makePlan, type Plan } from "./plan.js";
import { assertDomainsFree, assertPortsFree } from "./edge.js";
import { protect, protectionEvent, protectionFacts, type Confirmation } from "./protect.js";
import { dropStale, scaledResolution } from "./scale-record.js";
import { observeSecrets, secretAgesFor } from "./secrets.js";
import {
  pendingServices,
  planInfrastructure,
  refuseDestroy,
  withTerraformOutputs,
  type TerraformSummary,
} from "./infra/index.js";
import { runPlan, type CheckRunner, type DeployResult } from "./run.js";
import { checkSaved } from "./deploy-saved.js";
import type { SavedPlan } from "./infra/saved-plan.js";

type ScaledResolution = Awaited<ReturnType<typeof scaledResolution>>;

export interface DeployOptions extends GroupSelection {
  only?: string[];
  /** A protected environment's terraform plan may destroy resources (engine/infra/). */
  allowDestroy?: boolean;
  /** Recreate these services even when unchanged (`true`: every service). */
  forceRecreate?: string[] | true;
  /** Confirmed `confirm` checklist items. */
  confirm?: string[];
  /** Who runs the deploy and which items were confirmed at a prompt. */
  confirmer?: Confirmer;
  yes?: boolean;
  /** A `confirm: name` environment's typed name, and a freeze override (engine/protect.ts). */
  protection?: Omit<Confirmation, "yes">;
  dryRun?: boolean;
  skipChecks?: boolean;
  /** A plan saved by `plan --out` (engine/deploy-saved.ts): applied exactly, or refused. */
  savedPlan?: unknown;
  description?: string;
  emit?: EventSink;
  signal?: AbortSignal;
}

/** Who confirmed `confirm` items, and which of them at a prompt (the rest by --confirm). */
export interface Confirmer {
  actor?: string;
  prompted?: string[];
}

/** The pre-flight checks of a resolution; `who`: the person running the CLI, else the daemon's user. */
export function checkRunner(
  deps: EngineDeps,
  resolution: Resolution,
  confirm: string[] | undefined,
  who: Confirmer = {},
): CheckRunner {
  const run = createCheckRunner({
    vars: resolution.vars,
    secrets: resolution.secrets.values(),
    confirmed: confirm ?? [],
    prompted: who.prompted ?? [],
    confirmedBy: who.actor ?? deps.actor,
    secretAges: secretAgesFor(deps, resolution),
    ...(deps.preflight ? { target: deps.preflight } : {}),
  });
  return (spec, emit, signal) =>
    run(
      {
        dir: spec.dir,
        checks: spec.checks as CheckSpec[],
        services: spec.services,
        env: spec.env,
        target: spec.target,
        protect: spec.protect,
      },
      emit,
      signal,
    );
}

function checkOnly(spec: ResolvedSpec, only?: string[], flag = "--only"): void {
  for (const s of only ?? [])
    if (!spec.services[s])
      throw new UsageError(
        `${flag} ${s}: no such service (services: ${Object.keys(spec.services).join(", ")})`,
      );
}

/** `--group G` (repeatable) and `--skip-group G`: whole groups of services (spec/groups.ts). */
export interface GroupSelection {
  groups?: string[];
  skipGroups?: string[];
}

/** --only narrowed by --group/--skip-group: the services of the chosen groups (and --only's, if given). */
function selectGroups(spec: ResolvedSpec, opts: PlanOptions): string[] | undefined {
  const picked = servicesOfGroups(
    spec.services,
    spec.groups?.map((g) => g.name),
    opts,
  );
  if (picked.problem) throw new UsageError(picked.problem);
  if (!picked.services) return opts.only;
  const inGroups = picked.services;
  if (!opts.only?.length) return inGroups;
  const both = opts.only.filter((n) => inGroups.includes(n));
  if (!both.length)
    throw new UsageError(`--only ${opts.only.join(" ")}: none of them is in the chosen groups`);
  return both;
}

export interface PlanOptions extends GroupSelection {
  only?: string[];
  skipChecks?: boolean;
  forceRecreate?: string[] | true;
  /** The Terraform plans to use (a saved plan's, engine/deploy-saved.ts), or the tag of new ones. */
  infra?: { saved?: TerraformSummary[]; tag?: string };
}

/** The plan, and the fingerprints that tell the next deploy which services are unchanged. */
export async function planDeploy(
  deps: EngineDeps,
  resolution: Resolution,
  opts: PlanOptions = {},
): Promise<{
  plan: Plan;
  fingerprints: Record<string, string>;
  scaled: ScaledResolution;
  infra: TerraformSummary[];
}> {
  checkOnly(resolution.spec, opts.only);
  // Terraform plans first: their outputs are ${tf.NAME} in the services (engine/infra/).
  const infra = opts.infra?.saved ?? (await planInfrastructure(deps, resolution.spec, opts.infra?.tag));
  resolution = withTerraformOutputs(resolution, infra);
  const spec = resolution.spec;
  // A service waiting for an output known only after the apply cannot be judged unchanged.
  const pending = pendingServices(spec);
  if (pending.length && opts.forceRecreate !== true)
    opts = { ...opts, forceRecreate: [...(opts.forceRecreate ?? []), ...pending] };
  opts = { ...opts, only: selectGroups(spec, opts) };
  if (Array.isArray(opts.forceRecreate)) checkOnly(spec, opts.forceRecreate, "--force-recreate");
  const [current, revs, live] = await Promise.all([
    deps.store.currentRevision(spec.project, spec.env),
    deps.store.listRevisions(spec.project, spec.env, { limit: 1 }),
    deps.store.listInstances(spec.project, spec.env),
  ]);
  const names = opts.only?.length ? opts.only : Object.keys(spec.services);
  const fingerprints = await fingerprintServices(deps, spec, names);
  // Counts set by `slipway scale` that the spec did not overrule (engine/scale-record.ts); the
  // fingerprints stay the spec's, so a scaled service that did not change is kept as it runs.
  const scaled = await scaledResolution(deps.store, resolution);
  const unchanged = unchangedServices({
    current,
    fingerprints,
    live,
    spec: scaled.resolution.spec,
    forceRecreate: opts.forceRecreate,
  });
  const plan = makePlan({
    spec: scaled.resolution.spec,
    current,
    nextRevision: (revs[0]?.number ?? 0) + 1,
    live,
    only: opts.only,
    skipChecks: opts.skipChecks,
    unchanged,
    infrastructure: infra,
  });
  return { plan, fingerprints, scaled, infra };
}

export async function deploy(
  deps: EngineDeps,
  resolution: Resolution,
  opts: DeployOptions = {},
): Promise<DeployResult | { dryRun: true; plan: Plan }> {
  const spec = resolution.spec;
  const emit = opts.emit ?? noopSink;
  const saved = opts.savedPlan;
  const planFor = (): Promise<Awaited<ReturnType<typeof planDeploy>> & { saved?: SavedPlan }> =>
    saved === undefined
      ? planDeploy(deps, resolution, opts)
      : checkSaved(deps, resolution, saved, planDeploy);
  if (opts.dryRun) {
    const { plan: p, infra } = await planFor();
    if (saved !== undefined) for (const i of infra) rmSync(i.planFile, { force: true });
    return { dryRun: true, plan: p };
  }
  const guard = protect(
    spec,
    "deploy",
    { ...opts.protection, yes: opts.yes, kubeContext: deps.kubeContext?.() },
    deps.actor,
    deps.now?.(),
  );
  return locked(deps, spec, "deploy", emit, async () => {
    const recorded = protectionEvent(spec, guard, true);
    if (recorded) emit(recorded);
    const planned = await planFor();
    const { plan: p, fingerprints, scaled, infra } = planned;
    try {
      refuseDestroy(spec, infra, opts.allowDestroy);
      if (spec.edge) await assertDomainsFree(await deps.router(), spec, p.services);
      await assertPortsFree(deps.router, spec, p.services);
    } catch (e) {
      if (planned.saved) for (const i of infra) rmSync(i.planFile, { force: true });
      throw e;
    }
    const current = await deps.store.currentRevision(spec.project, spec.env);
    // Every secret's value is dated from the first deploy that brought it (secretAge, `slipway secrets`).
    await observeSecrets(deps, resolution);
    emit({
      type: "log",
      level: "info",
      message: `deploying ${spec.project} ${spec.env} ${spec.version} as revision ${p.revision}`,
    });
    const result = await runPlan(deps, {
      resolution: scaled.resolution,
      plan: p,
      current,
      description: opts.description ?? `deploy ${spec.version}`,
      skipChecks: !!opts.skipChecks,
      emit,
      signal: opts.signal,
      checks: checkRunner(deps, resolution, opts.confirm, opts.confirmer),
      fingerprints,
      facts: {
        ...protectionFacts(guard),
        ...(Object.keys(scaled.kept).length ? { scaled: scaled.kept } : {}),
        ...(planned.saved
          ? {
              savedPlan: {
                digest: planned.saved.digest,
                createdAt: planned.saved.createdAt,
                actor: planned.saved.actor,
              },
            }
          : {}),
      },
    });
    await dropStale(deps.store, spec.project, spec.env, scaled.stale);
    return result;
  });
}
