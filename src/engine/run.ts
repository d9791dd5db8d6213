/**
 * run(): executes a plan step by step, journaling every step in the store, and on failure
 * undoes every service it changed, in reverse order (the compensating plan).
 */
import type { Artifact, Instance } from "../drivers/driver.js";
import { CheckFailed, errorMessage, Interrupted, OperationFailed } from "../errors.js";
import { proxied } from "../spec/defaults.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { JournalStep, Revision } from "../store/store.js";
import { DeployAnalysis } from "./analysis-gate.js";
import type { EngineDeps } from "./context.js";
import { deployedSpec, snapshotOf } from "./deployed.js";
import { backupBeforeDeploy, backupCurrentRelease } from "./data/index.js";
import type { EventSink } from "./events.js";
import type { Plan, PlanStep } from "./plan.js";
import { blueGreen } from "./strategies/blue-green.js";
import { canary, type StepGate } from "./strategies/canary.js";
import {
  gateHealthy,
  routeKey,
  routeTo,
  startSlot,
  stopInstances,
  type RolloutRequest,
  type RolloutState,
} from "./strategies/common.js";
import { recreate } from "./strategies/recreate.js";
import { isWarm } from "./warm.js";

export interface CheckRunner {
  (
    spec: ResolvedSpec,
    emit: EventSink,
    signal?: AbortSignal,
  ): Promise<{ ok: boolean; summary: string; results: unknown[] }>;
}

export interface RunOptions {
  resolution: Resolution;
  plan: Plan;
  description: string;
  skipChecks: boolean;
  /** Rollback: the revision re-applied; its artifacts are reused. */
  rollbackOf?: Revision;
  /** The revision deployed before this one (undo restores it). */
  current?: Revision;
  emit: EventSink;
  signal?: AbortSignal;
  checks?: CheckRunner;
  canaryGate?: StepGate;
}

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

export function serviceUrls(spec: ResolvedSpec, services = Object.keys(spec.services)) {
  const host = spec.proxyHost === "0.0.0.0" ? "127.0.0.1" : spec.proxyHost;
  return services
    .filter((n) => spec.services[n]?.port)
    .map((n) => ({ service: n, url: `http://${host}:${spec.services[n].port}` }));
}

/** Which revision's artifact a service uses in a revision (rollbacks reuse the original one). */
export function artifactRevision(rev: Revision | undefined, service: string): number | undefined {
  if (!rev) return undefined;
  const a = rev.facts.artifacts?.[service];
  return a ?? rev.number;
}

export async function runPlan(deps: EngineDeps, opts: RunOptions): Promise<DeployResult> {
  const { resolution, plan: p, emit } = opts;
  const spec = resolution.spec;
  const { store } = deps;
  const rev = await store.createRevision({
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
    facts: { previous: opts.current?.number },
  });
  const revision = rev.number;
  emit({
    type: "alert",
    kind: "deploy.started",
    severity: "info",
    revision,
    message: `${spec.project} ${spec.env}: ${opts.rollbackOf ? `rollback to revision ${opts.rollbackOf.number}` : `deploy of ${spec.version}`} started as revision ${revision} by ${deps.actor}`,
  });
  await journalPending(deps, spec, revision, p.steps);
  const artifacts = new Map<string, Artifact>();
  const artifactRevs: Record<string, number> = {};
  const states: RolloutState[] = [];
  const facts: Record<string, unknown> = { previous: opts.current?.number };
  const live = await store.listInstances(spec.project, spec.env);
  // Canary gates and the bake; their evidence goes to facts.analysis.
  const analysis = DeployAnalysis.for(deps, spec, { revision, emit, facts, rollback: !!opts.rollbackOf });

  const request = (svc: ResolvedService, step: PlanStep): RolloutRequest => ({
    deps,
    spec,
    svc,
    revision,
    artifact: artifacts.get(svc.name) as Artifact,
    old: live.filter((i) => i.service === svc.name && !isWarm(i)),
    warm: live.filter((i) => i.service === svc.name && isWarm(i)),
    emit,
    signal: opts.signal,
    record: (data) => store.journalUpdate(spec.project, spec.env, revision, step.seq, { data }),
  });

  const execute = async (step: PlanStep): Promise<string | undefined> => {
    const svc = step.service ? spec.services[step.service] : undefined;
    switch (step.kind) {
      case "checks": {
        if (!opts.checks) return "no check runner";
        const r = await opts.checks(spec, emit, opts.signal);
        facts.checks = r.results;
        if (!r.ok) {
          emit({
            type: "alert",
            kind: "check.failed",
            severity: "warning",
            revision,
            message: `${spec.project} ${spec.env}: pre-flight checks failed: ${r.summary}`,
          });
          throw new CheckFailed(`pre-flight checks failed: ${r.summary}`);
        }
        return r.summary;
      }
      case "prepare": {
        const s = svc as ResolvedService;
        const artRev = opts.rollbackOf ? (artifactRevision(opts.rollbackOf, s.name) ?? revision) : revision;
        const a = await deps.driver.prepare(spec.project, spec.env, s, artRev, {
          existingOnly: opts.rollbackOf !== undefined,
        });
        artifacts.set(s.name, a);
        artifactRevs[s.name] = artRev;
        return a.ref;
      }
      case "migrate": {
        const s = svc as ResolvedService;
        const req = request(s, step);
        const r = await deps.driver.runOnce(
          {
            project: spec.project,
            env: spec.env,
            service: s,
            revision,
            version: spec.version,
            slot: "candidate",
            index: 0,
            env_vars: { ...s.env, SLIPWAY_VERSION: spec.version, SLIPWAY_ENV: spec.env },
            artifact: req.artifact,
          },
          s.migrate?.up as string,
          { timeoutMs: 600_000, signal: opts.signal },
        );
        if (r.exitCode !== 0)
          throw new OperationFailed(
            `${s.name}: migration failed (exit ${r.exitCode})\n${r.output.split("\n").slice(-15).join("\n")}`,
          );
        facts.migrations = { ...((facts.migrations as object) ?? {}), [s.name]: true };
        return "migrations applied";
      }
      case "rollout": {
        const s = svc as ResolvedService;
        const req = request(s, step);
        let state: RolloutState;
        try {
          state =
            s.rollout.strategy === "recreate"
              ? await recreate(req)
              : s.rollout.strategy === "canary"
                ? await canary(req, opts.canaryGate ?? analysis?.canaryGate)
                : await blueGreen(req);
        } catch (e) {
          const partial = (e as { rollout?: RolloutState }).rollout;
          if (partial) states.push(partial);
          throw e;
        }
        states.push(state);
        return `${state.fresh.length} instance(s) healthy${state.routed && s.port ? `, serving :${s.port}` : ""}`;
      }
      case "remove": {
        const name = step.service as string;
        const insts = live.filter((i) => i.service === name);
        const prevSvc = snapshotOf(opts.current)?.services?.[name];
        // By port, not proxied(): a snapshot from before `proxy` existed may have routed a stateful one.
        if (prevSvc?.port !== undefined) await (await deps.router()).removeRoute(routeKey(spec, name));
        for (const i of insts) {
          await deps.driver.stop(i, {
            signal: prevSvc?.stop.signal ?? "SIGTERM",
            graceMs: prevSvc?.stop.grace ?? 10_000,
          });
          await store.removeInstance(i.project, i.env, i.id);
        }
        return `${insts.length} instance(s) stopped`;
      }
      case "bake":
        return analysis ? analysis.bake(states, opts.signal) : "no analysis";
      case "finalize": {
        await finalize(deps, spec, states);
        return `revision ${revision} deployed`;
      }
      case "backup": {
        if (!step.service) {
          // The release being replaced (plan adds this step only when one is deployed).
          if (!opts.current) return "no release deployed";
          const r = await backupCurrentRelease(deps, spec, opts.current, live);
          facts.releaseBackup = r.id;
          return r.message;
        }
        const b = await backupBeforeDeploy(deps, spec, svc as ResolvedService, revision, emit);
        facts.backups = {
          ...(facts.backups as Record<string, string> | undefined),
          [step.service as string]: b.id,
        };
        return b.message;
      }
    }
  };

  const steps = [...p.steps];
  let failure: unknown;
  const groups = [...new Set(steps.map((s) => s.group))].sort((a, b) => a - b);
  for (const g of groups) {
    if (opts.signal?.aborted) {
      failure = new Interrupted("interrupted");
      break;
    }
    const inGroup = steps.filter((s) => s.group === g);
    const results = await Promise.allSettled(
      inGroup.map((s) => runStep(deps, spec, revision, s, emit, execute)),
    );
    const bad = results.findIndex((r) => r.status === "rejected");
    if (bad >= 0) {
      failure = (results[bad] as PromiseRejectedResult).reason;
      break;
    }
  }

  if (!failure) {
    await store.updateRevision(spec.project, spec.env, revision, {
      status: "deployed",
      finishedAt: new Date().toISOString(),
      facts: { ...facts, artifacts: artifactRevs },
    });
    if (opts.current)
      await store.updateRevision(spec.project, spec.env, opts.current.number, { status: "superseded" });
    const urls = serviceUrls(spec, p.services);
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
      services: p.services,
      urls,
      steps: await store.journal(spec.project, spec.env, revision),
    };
  }

  // Failure: only what never started is skipped (a step of the failed layer that finished keeps
  // its ok); then every service changed is undone in reverse order, each undo its own step.
  if (opts.signal?.aborted && !(failure instanceof Interrupted)) failure = new Interrupted("interrupted");
  for (const s of await store.journal(spec.project, spec.env, revision)) {
    if (s.status === "pending")
      await store.journalUpdate(spec.project, spec.env, revision, s.seq, { status: "skipped" });
  }
  const reason = errorMessage(failure);
  const undoFrom = Math.max(0, ...steps.map((s) => s.seq)) + 1;
  const undone = await undoJournaled(deps, spec, revision, undoFrom, states, opts, emit);
  await store.updateRevision(spec.project, spec.env, revision, {
    status: "failed",
    finishedAt: new Date().toISOString(),
    reason,
    facts: { ...facts, artifacts: artifactRevs, undo: undone },
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
      ? failure
      : new OperationFailed(`deploy of revision ${revision} failed and was rolled back: ${reason}`);
  err.details = {
    ...(err.details ?? {}),
    revision,
    undo: undone,
    steps: await store.journal(spec.project, spec.env, revision),
  };
  throw err;
}

/** undo() one service at a time, each journaled (and shown) as an `undo` step after the plan's. */
async function undoJournaled(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  firstSeq: number,
  states: RolloutState[],
  opts: RunOptions,
  emit: EventSink,
): Promise<{ service: string; ok: boolean; message: string }[]> {
  const steps = [...states].reverse().map((st, i) => ({
    seq: firstSeq + i,
    kind: "undo",
    service: st.service,
    description: `undo ${st.service}`,
    state: st,
  }));
  await journalPending(deps, spec, revision, steps);
  const out: { service: string; ok: boolean; message: string }[] = [];
  for (const s of steps) {
    await runStep(deps, spec, revision, s, emit, async () => {
      // undo()'s own success line would repeat this step's message; its errors still show.
      const quiet: EventSink = (e) => {
        if (!(e.type === "log" && e.level === "warn")) emit(e);
      };
      const [r] = await undo(deps, spec, [s.state], opts.current, opts.resolution, quiet);
      out.push(r);
      if (!r.ok) throw new OperationFailed(r.message);
      return r.message;
    }).catch(() => {}); // recorded as a failed step and in the result; the next service still goes back
  }
  return out;
}

async function runStep<S extends Pick<PlanStep, "seq" | "service" | "description"> & { kind: string }>(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  step: S,
  emit: EventSink,
  execute: (s: S) => Promise<string | undefined>,
): Promise<void> {
  const t0 = Date.now();
  const base = {
    type: "step" as const,
    seq: step.seq,
    kind: step.kind,
    service: step.service,
    description: step.description,
  };
  await deps.store.journalUpdate(spec.project, spec.env, revision, step.seq, {
    status: "running",
    startedAt: new Date().toISOString(),
  });
  emit({ ...base, status: "running" });
  try {
    const message = await execute(step);
    const durationMs = Date.now() - t0;
    await deps.store.journalUpdate(spec.project, spec.env, revision, step.seq, {
      status: "ok",
      finishedAt: new Date().toISOString(),
      durationMs,
      message,
    });
    emit({ ...base, status: "ok", durationMs, message });
  } catch (e) {
    const durationMs = Date.now() - t0;
    const message = errorMessage(e);
    await deps.store.journalUpdate(spec.project, spec.env, revision, step.seq, {
      status: "failed",
      finishedAt: new Date().toISOString(),
      durationMs,
      message,
    });
    emit({ ...base, status: "failed", durationMs, message });
    throw e;
  }
}

/**
 * Promote the fresh instances. The old ones of a service with a port stay warm for
 * `rollout.keepWarm` (a rollback inside the window is a switch); the rest are drained and stopped.
 */
export async function finalize(deps: EngineDeps, spec: ResolvedSpec, states: RolloutState[]): Promise<void> {
  for (const st of states) {
    for (const inst of st.fresh)
      await deps.store.putInstance({ ...inst, slot: "stable", warmUntil: undefined });
  }
  await Promise.all(
    states.map(async (st) => {
      const svc = spec.services[st.service];
      // One warm generation at most: the instances warm from an earlier deploy go now.
      const fresh = new Set(st.fresh.map((i) => i.id));
      const records = await deps.store.listInstances(spec.project, spec.env);
      const staleWarm = records.filter((i) => i.service === st.service && isWarm(i) && !fresh.has(i.id));
      if (staleWarm.length) await stopInstances(deps, svc, staleWarm, "superseded");
      if (st.oldStopped || !st.old.length) return;
      if (proxied(svc) && svc.rollout.keepWarm > 0) {
        const until = new Date(Date.now() + svc.rollout.keepWarm).toISOString();
        for (const inst of st.old)
          await deps.store.putInstance({ ...inst, slot: "stable", warmUntil: until });
        return;
      }
      if (proxied(svc)) {
        const router = await deps.router();
        await router.waitDrained(
          st.old.map((i) => i.id),
          svc.rollout.drainTimeout,
        );
      }
      await stopInstances(deps, svc, st.old, "superseded");
    }),
  );
}

/** The compensating plan: put every changed service back as it was, in reverse order. */
export async function undo(
  deps: EngineDeps,
  spec: ResolvedSpec,
  states: RolloutState[],
  previous: Revision | undefined,
  resolution: Resolution,
  emit: EventSink,
): Promise<{ service: string; ok: boolean; message: string }[]> {
  const out: { service: string; ok: boolean; message: string }[] = [];
  const prevSpec = previous ? deployedSpec(previous, resolution.secrets) : undefined;
  for (const st of [...states].reverse()) {
    const svc = spec.services[st.service];
    try {
      if (!st.oldStopped && st.old.length) {
        // The old slot is still running: send traffic back to it, drop the candidates.
        await routeTo(stubReq(deps, spec, svc), st.old);
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        out.push({
          service: st.service,
          ok: true,
          message: `traffic back on the previous instances${keptNote(spec, st, kept)}`,
        });
      } else if (st.oldStopped && prevSpec?.services[st.service] && previous) {
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        const prevSvc = { ...prevSpec.services[st.service], path: prevSpec.services[st.service].path };
        const artRev = artifactRevision(previous, st.service) ?? previous.number;
        const artifact = await deps.driver.prepare(spec.project, spec.env, prevSvc, artRev, {
          existingOnly: true,
        });
        const req: RolloutRequest = {
          ...stubReq(deps, { ...prevSpec, version: previous.version }, prevSvc),
          artifact,
          revision: previous.number,
        };
        const restored = await startSlot(req, "stable", previous.number);
        await gateHealthy(req, restored);
        await routeTo(req, restored);
        out.push({
          service: st.service,
          ok: true,
          message: `restarted revision ${previous.number}${keptNote(spec, st, kept)}`,
        });
      } else {
        // A first deploy: nothing to go back to.
        if (proxied(svc)) await (await deps.router()).removeRoute(routeKey(spec, svc.name));
        const kept = await stopInstances(deps, svc, st.fresh, "failed");
        out.push({
          service: st.service,
          ok: true,
          message: `new instances stopped (no previous revision)${keptNote(spec, st, kept)}`,
        });
      }
      emit({
        type: "log",
        level: "warn",
        service: st.service,
        message: `${st.service}: ${out[out.length - 1].message}`,
      });
    } catch (e) {
      out.push({ service: st.service, ok: false, message: errorMessage(e) });
      emit({
        type: "log",
        level: "error",
        service: st.service,
        message: `${st.service}: undo failed: ${errorMessage(e)}`,
      });
    }
  }
  return out;
}

/** Where the logs of the failed instances are still to be read (the driver kept them stopped). */
function keptNote(spec: ResolvedSpec, st: RolloutState, kept: string[]): string {
  if (!kept.length) return "";
  const rev = st.fresh[0]?.revision;
  return (
    `; failed instance(s) kept stopped: ${kept.join(", ")}` +
    ` (slipway logs ${spec.env} ${st.service} --revision ${rev}, or docker logs ${kept[0]})`
  );
}

function stubReq(deps: EngineDeps, spec: ResolvedSpec, svc: ResolvedService): RolloutRequest {
  return {
    deps,
    spec,
    svc,
    revision: 0,
    artifact: { service: svc.name, revision: 0, ref: "" },
    old: [],
    emit: () => {},
    record: async () => {},
  };
}

/**
 * Remove release artifacts (release dirs, image tags) beyond each service's `retain` earlier
 * releases; the current one and the releases of live instances are always kept.
 */
export async function pruneArtifacts(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  retainOverride?: number,
): Promise<void> {
  const revs = await deps.store.listRevisions(spec.project, spec.env, { limit: 50 });
  const live = await deps.store.listInstances(spec.project, spec.env);
  for (const svc of Object.values(spec.services)) {
    const current = revs.find((r) => r.number === revision);
    const keep = new Set<number>([artifactRevision(current, svc.name) ?? revision]);
    for (const i of live) if (i.service === svc.name) keep.add(i.revision);
    const retain = retainOverride ?? svc.retain;
    for (const r of revs) {
      if (keep.size > retain) break;
      if (r.status === "deployed" || r.status === "superseded") {
        const a = artifactRevision(r, svc.name);
        if (a !== undefined) keep.add(a);
      }
    }
    // Retired instances (Docker's stopped containers) of as many revisions as artifacts are kept.
    await deps.driver.prune(spec.project, spec.env, svc.name, [...keep], { retired: retain });
  }
}

export type { Instance };

/** Journal steps as pending before any runs: a crash then shows what was planned and not done. */
async function journalPending(
  deps: EngineDeps,
  spec: ResolvedSpec,
  revision: number,
  steps: readonly { seq: number; kind: string; service?: string; description: string }[],
): Promise<void> {
  for (const s of steps)
    await deps.store.journalAppend({
      project: spec.project,
      env: spec.env,
      revision,
      seq: s.seq,
      kind: s.kind,
      service: s.service,
      description: s.description,
      status: "pending",
    });
}
