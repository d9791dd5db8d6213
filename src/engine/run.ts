/**
 * runPlan(): executes a plan step by step (each kind a runner in steps/, journaled by the one
 * executor), and on failure undoes every service it changed, in reverse order (the compensating plan).
 */
import { redactError } from "../util/redact.js";
import type { Artifact, Instance } from "../drivers/driver.js";
import { CheckFailed, errorMessage, Interrupted, OperationFailed } from "../errors.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { JournalStep, Revision } from "../store/store.js";
import { DeployAnalysis } from "./analysis-gate.js";
import { artifactRevision, pruneArtifacts } from "./artifacts.js";
import { servingRevision, type CarryFacts } from "./carry.js";
import type { EngineDeps } from "./context.js";
import type { PlanStep } from "./plan.js";
import { StepExecutor, stepRedactor } from "./steps/executor.js";
import { STEP_RUNNERS } from "./steps/registry.js";
import type { RunOptions, StepContext } from "./steps/step.js";
import { undoJournaled } from "./undo.js";
import { isWarm } from "./warm.js";
import { publicUrl } from "./edge.js";

export type { CheckRunner, RunOptions } from "./steps/step.js";
export { artifactRevision, pruneArtifacts } from "./artifacts.js";
export { finalize } from "./steps/finalize.js";
export { undo } from "./undo.js";
export type { Instance };

export interface DeployResult {
  project: string;
  env: string;
  revision: number;
  version: string;
  status: Revision["status"];
  services: string[];
  urls: { service: string; url: string }[];
  reason?: string;
  steps: JournalStep[];
}

/**
 * Where users reach each service: its public domain URL on the proxy's shared listeners, else
 * the proxy's port on this machine; on Kubernetes the Ingress host of its first `domains` entry
 * (https with `tls`), else the Service's in-cluster address.
 */
export function serviceUrls(spec: ResolvedSpec, services = Object.keys(spec.services)) {
  const host = spec.proxyHost === "0.0.0.0" ? "127.0.0.1" : spec.proxyHost;
  const t = spec.target;
  const url = (n: string) => {
    const s = spec.services[n] as ResolvedSpec["services"][string];
    if (t.kind !== "kubernetes") return publicUrl(spec, s) ?? `http://${host}:${s.port}`;
    const domain = s.domains?.[0];
    if (domain) return `${s.tls ? "https" : "http"}://${domain}`;
    return `http://${n}.${"namespace" in t ? t.namespace : "default"}.svc:${s.port}`;
  };
  return services
    .filter((n) => spec.services[n]?.port || (t.kind === "kubernetes" && spec.services[n]?.domains?.length))
    .map((n) => ({ service: n, url: url(n) }));
}

export async function runPlan(deps: EngineDeps, opts: RunOptions): Promise<DeployResult> {
  const { resolution, plan: p, emit } = opts;
  const spec = resolution.spec;
  // Recorded from the start: a deploy completed by crash recovery still knows what it kept.
  const start = startFacts(opts);
  const rev = await deps.store.createRevision({
    project: spec.project,
    env: spec.env,
    version: spec.version,
    status: "in-progress",
    snapshot: resolution.snapshot,
    services: p.services,
    actor: deps.actor,
    description: opts.description,
    rollbackOf: opts.rollbackOf?.number,
    skipChecks: opts.skipChecks,
    facts: start.facts,
  });
  const revision = rev.number;
  emit({
    type: "alert",
    kind: "deploy.started",
    severity: "info",
    revision,
    message: `${spec.project} ${spec.env}: ${opts.restart ? `restart of revision ${opts.current?.number}` : opts.rollbackOf ? `rollback to revision ${opts.rollbackOf.number}` : `deploy of ${spec.version}`} started as revision ${revision} by ${deps.actor}`,
  });
  const redact = stepRedactor(resolution);
  const executor = new StepExecutor(deps, spec, revision, emit, redact);
  await executor.pending(p.steps);
  const ctx = await stepContext(deps, opts, revision, start);
  const failure = await runGroups(executor, p.steps, ctx);
  if (!failure) return succeeded(ctx);
  return failed(ctx, executor, failure, redact);
}

async function stepContext(
  deps: EngineDeps,
  opts: RunOptions,
  revision: number,
  { facts, artifactRevs }: ReturnType<typeof startFacts>,
): Promise<StepContext> {
  const spec = opts.resolution.spec;
  const { emit, signal } = opts;
  const artifacts = new Map<string, Artifact>();
  const live = await deps.store.listInstances(spec.project, spec.env);
  return {
    deps,
    spec,
    revision,
    opts,
    emit,
    signal,
    facts,
    artifacts,
    artifactRevs,
    states: [],
    live,
    // Canary gates and the bake; their evidence goes to facts.analysis.
    analysis: DeployAnalysis.for(deps, spec, { revision, emit, facts, rollback: !!opts.rollbackOf }),
    request: (svc: ResolvedService, step: PlanStep) => ({
      deps,
      spec,
      svc,
      revision,
      artifact: artifacts.get(svc.name) as Artifact,
      old: live.filter((i) => i.service === svc.name && !isWarm(i)),
      warm: live.filter((i) => i.service === svc.name && isWarm(i)),
      emit,
      signal,
      record: (data) => deps.store.journalUpdate(spec.project, spec.env, revision, step.seq, { data }),
    }),
  };
}

function startFacts(opts: RunOptions) {
  // A rollback re-applies the target's code: its fingerprints hold again.
  const fingerprints = opts.fingerprints ?? (opts.rollbackOf?.facts as CarryFacts | undefined)?.fingerprints;
  const facts: Record<string, unknown> = { ...opts.facts, previous: opts.current?.number };
  if (fingerprints) facts.fingerprints = fingerprints;
  const artifactRevs: Record<string, number> = {};
  // A restart of some services leaves the others running as a deploy --only does.
  if (!opts.rollbackOf || opts.restart) untouched(opts, facts, artifactRevs);
  const kept = opts.plan.steps.filter((s) => s.kind === "carry" && s.service && s.fromRevision);
  if (kept.length)
    facts.carried = {
      ...(facts.carried as Record<string, number> | undefined),
      ...Object.fromEntries(kept.map((s) => [s.service as string, s.fromRevision as number])),
    };
  return { facts, artifactRevs };
}

/**
 * Services a deploy leaves out (--only) keep running as they are: recorded like kept ones
 * (their fingerprint, instances and artifact stay the deployed revision's).
 */
function untouched(opts: RunOptions, facts: Record<string, unknown>, artifactRevs: Record<string, number>) {
  const { current, plan } = opts;
  if (!current || !facts.fingerprints) return;
  const before = current.facts as CarryFacts;
  const fps = { ...(facts.fingerprints as Record<string, string>) };
  const carried: Record<string, number> = {};
  for (const n of Object.keys(opts.resolution.spec.services)) {
    if (plan.services.includes(n)) continue;
    if (before.fingerprints?.[n]) fps[n] = before.fingerprints[n];
    else delete fps[n];
    if (!current.services.includes(n) && !before.carried?.[n]) continue;
    carried[n] = servingRevision(current, n);
    artifactRevs[n] = artifactRevision(current, n) ?? carried[n];
  }
  facts.fingerprints = fps;
  if (Object.keys(carried).length) facts.carried = carried;
}

/** Steps sharing a group run in parallel, groups in order; the first failure stops the run. */
async function runGroups(executor: StepExecutor, steps: PlanStep[], ctx: StepContext): Promise<unknown> {
  const groups = [...new Set(steps.map((s) => s.group))].sort((a, b) => a - b);
  for (const g of groups) {
    if (ctx.signal?.aborted) return new Interrupted("interrupted");
    const inGroup = steps.filter((s) => s.group === g);
    const results = await Promise.allSettled(
      inGroup.map((s) =>
        executor.run(s, async (step) => {
          try {
            return await STEP_RUNNERS[step.kind].run(step, ctx);
          } finally {
            await recordFacts(ctx);
          }
        }),
      ),
    );
    const bad = results.find((r) => r.status === "rejected");
    if (bad) return (bad as PromiseRejectedResult).reason;
  }
  return undefined;
}

/**
 * The revision's facts as they stand, written as each step finishes: a deploy that recovery
 * completes or fails after a crash keeps its backups, migrations and artifacts (a later
 * `rollback --with-db` needs them). Writes are chained so parallel steps never reorder them.
 */
function recordFacts(ctx: StepContext): Promise<void> {
  const { deps, spec, revision } = ctx;
  const write = () =>
    deps.store.updateRevision(spec.project, spec.env, revision, {
      facts: { ...ctx.facts, artifacts: ctx.artifactRevs },
    });
  const next = (factWrites.get(ctx) ?? Promise.resolve()).then(write, write);
  factWrites.set(ctx, next);
  return next;
}
const factWrites = new WeakMap<StepContext, Promise<void>>();

async function succeeded(ctx: StepContext): Promise<DeployResult> {
  const { deps, spec, revision, opts, emit } = ctx;
  const { store } = deps;
  await store.updateRevision(spec.project, spec.env, revision, {
    status: "deployed",
    finishedAt: new Date().toISOString(),
    facts: { ...ctx.facts, artifacts: ctx.artifactRevs },
  });
  if (opts.current)
    await store.updateRevision(spec.project, spec.env, opts.current.number, { status: "superseded" });
  const services = opts.plan.services;
  const urls = serviceUrls(spec, services);
  emit({
    type: "alert",
    kind: "deploy.succeeded",
    severity: "info",
    revision,
    message: `${spec.project} ${spec.env}: revision ${revision} (${spec.version}) deployed`,
  });
  await pruneArtifacts(deps, spec, revision).catch(() => {});
  return {
    project: spec.project,
    env: spec.env,
    revision,
    version: spec.version,
    status: "deployed",
    services,
    urls,
    steps: await store.journal(spec.project, spec.env, revision),
  };
}

/**
 * Only what never started is skipped (a step of the failed layer that finished keeps its ok);
 * then every service changed is undone in reverse order, each undo its own step.
 */
async function failed(
  ctx: StepContext,
  executor: StepExecutor,
  cause: unknown,
  redact: (s: string) => string,
): Promise<never> {
  const { deps, spec, revision, opts, emit, states } = ctx;
  const { store } = deps;
  let failure = cause;
  if (opts.signal?.aborted && !(failure instanceof Interrupted)) failure = new Interrupted("interrupted");
  for (const s of await store.journal(spec.project, spec.env, revision)) {
    if (s.status === "pending")
      await store.journalUpdate(spec.project, spec.env, revision, s.seq, { status: "skipped" });
  }
  const reason = redact(errorMessage(failure));
  const undoFrom = Math.max(0, ...opts.plan.steps.map((s) => s.seq)) + 1;
  const undone = await undoJournaled(executor, undoFrom, states, {
    deps,
    spec,
    current: opts.current,
    resolution: opts.resolution,
    emit,
  });
  await store.updateRevision(spec.project, spec.env, revision, {
    status: "failed",
    finishedAt: new Date().toISOString(),
    reason,
    facts: { ...ctx.facts, artifacts: ctx.artifactRevs, undo: undone },
  });
  emit({
    type: "alert",
    kind: "deploy.failed",
    severity: "critical",
    revision,
    message: `${spec.project} ${spec.env}: revision ${revision} failed${states.length ? " and was rolled back" : " before anything changed"}: ${reason.split("\n")[0]}`,
  });
  const err =
    failure instanceof Interrupted || failure instanceof CheckFailed
      ? redactError(failure, redact)
      : new OperationFailed(`deploy of revision ${revision} failed and was rolled back: ${reason}`);
  err.details = {
    ...(err.details ?? {}),
    revision,
    undo: undone,
    steps: await store.journal(spec.project, spec.env, revision),
  };
  throw err;
}
