/** `slipway deploy` and `plan`: the plan of a resolved spec against what runs, then run it. */
import { createCheckRunner, type CheckSpec } from "../checks/index.js";
import { UsageError } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { fingerprints as fingerprintServices, unchangedServices } from "./carry.js";
import type { EngineDeps } from "./context.js";
import { noopSink, type EventSink } from "./events.js";
import { locked } from "./locked.js";
import { plan as makePlan, type Plan } from "./plan.js";
import { assertDomainsFree } from "./edge.js";
import { protect, protectionEvent, protectionFacts, type Confirmation } from "./protect.js";
import { runPlan, type CheckRunner, type DeployResult } from "./run.js";

export interface DeployOptions {
  only?: string[];
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

export interface PlanOptions {
  only?: string[];
  skipChecks?: boolean;
  forceRecreate?: string[] | true;
}

/** The plan, and the fingerprints that tell the next deploy which services are unchanged. */
export async function planDeploy(
  deps: EngineDeps,
  resolution: Resolution,
  opts: PlanOptions = {},
): Promise<{ plan: Plan; fingerprints: Record<string, string> }> {
  const spec = resolution.spec;
  checkOnly(spec, opts.only);
  if (Array.isArray(opts.forceRecreate)) checkOnly(spec, opts.forceRecreate, "--force-recreate");
  const [current, revs, live] = await Promise.all([
    deps.store.currentRevision(spec.project, spec.env),
    deps.store.listRevisions(spec.project, spec.env, { limit: 1 }),
    deps.store.listInstances(spec.project, spec.env),
  ]);
  const names = opts.only?.length ? opts.only : Object.keys(spec.services);
  const fingerprints = await fingerprintServices(deps, spec, names);
  const unchanged = unchangedServices({
    current,
    fingerprints,
    live,
    spec,
    forceRecreate: opts.forceRecreate,
  });
  const plan = makePlan({
    spec,
    current,
    nextRevision: (revs[0]?.number ?? 0) + 1,
    live,
    only: opts.only,
    skipChecks: opts.skipChecks,
    unchanged,
  });
  return { plan, fingerprints };
}

export async function deploy(
  deps: EngineDeps,
  resolution: Resolution,
  opts: DeployOptions = {},
): Promise<DeployResult | { dryRun: true; plan: Plan }> {
  const spec = resolution.spec;
  const emit = opts.emit ?? noopSink;
  if (opts.dryRun) return { dryRun: true, plan: (await planDeploy(deps, resolution, opts)).plan };
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
    const { plan: p, fingerprints } = await planDeploy(deps, resolution, opts);
    if (spec.edge) await assertDomainsFree(await deps.router(), spec, p.services);
    const current = await deps.store.currentRevision(spec.project, spec.env);
    emit({
      type: "log",
      level: "info",
      message: `deploying ${spec.project} ${spec.env} ${spec.version} as revision ${p.revision}`,
    });
    return runPlan(deps, {
      resolution,
      plan: p,
      current,
      description: opts.description ?? `deploy ${spec.version}`,
      skipChecks: !!opts.skipChecks,
      emit,
      signal: opts.signal,
      checks: checkRunner(deps, resolution, opts.confirm, opts.confirmer),
      fingerprints,
      facts: protectionFacts(guard),
    });
  });
}
