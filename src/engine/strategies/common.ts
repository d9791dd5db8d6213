/** Building blocks the strategies share: start a slot, gate on health, route traffic, stop. */
import type { Artifact, Instance, RetireReason, Slot } from "../../drivers/driver.js";
import { OperationFailed } from "../../errors.js";
import type { Route, RouteTarget } from "../../proxy/contract.js";
import { proxied } from "../../spec/defaults.js";
import type { ResolvedService, ResolvedSpec } from "../../spec/resolved.js";
import type { EngineDeps } from "../context.js";
import type { EventSink } from "../events.js";
import { edgeOf, requestViaDomain } from "../edge.js";

export interface RolloutRequest {
  deps: EngineDeps;
  spec: ResolvedSpec;
  svc: ResolvedService;
  revision: number;
  artifact: Artifact;
  /** Instances of this service running before the rollout. */
  old: Instance[];
  /** Instances kept warm from an earlier promotion (not routed). */
  warm?: Instance[];
  emit: EventSink;
  signal?: AbortSignal;
  /** Persist progress for crash recovery (journal step data). */
  record: (data: Record<string, unknown>) => Promise<void>;
}

export interface RolloutState {
  service: string;
  old: Instance[];
  fresh: Instance[];
  /** The old instances were stopped (recreate): undoing needs a restart of the old release. */
  oldStopped: boolean;
  /** Traffic now goes to the fresh instances. */
  routed: boolean;
}

/**
 * Run a strategy's body on a fresh state. On failure the state so far rides on the error, so the
 * executor can undo exactly what was done.
 */
export async function rollout(
  req: RolloutRequest,
  body: (state: RolloutState, phase: (p: string) => Promise<void>) => Promise<void>,
): Promise<RolloutState> {
  const state: RolloutState = {
    service: req.svc.name,
    old: req.old,
    fresh: [],
    oldStopped: false,
    routed: false,
  };
  const phase = (p: string) =>
    req.record({ fresh: state.fresh.map((i) => i.id), old: req.old.map((i) => i.id), phase: p });
  try {
    await body(state, phase);
  } catch (e) {
    throw withRollout(e, state);
  }
  return state;
}

/**
 * The error carrying what this rollout did (for undo). Parallel rollouts can fail with one shared
 * error object (a cached request that rejected once): a later service must not overwrite the
 * state of an earlier one, or that one is never undone. Then a copy of the same class carries it.
 */
function withRollout(e: unknown, state: RolloutState): unknown {
  if (!(e instanceof Error)) return e;
  const own = e as Error & { rollout?: RolloutState };
  if (!own.rollout) return Object.assign(own, { rollout: state });
  const copy = Object.assign(Object.create(Object.getPrototypeOf(e) as object) as Error, e);
  return Object.assign(copy, { message: e.message, stack: e.stack, rollout: state });
}

export const routeKey = (spec: ResolvedSpec, service: string) => `${spec.project}/${spec.env}/${service}`;

import { instanceEnv } from "../../spec/instance-env.js";

export { instanceEnv };

export async function startSlot(
  req: RolloutRequest,
  slot: Slot,
  revision = req.revision,
): Promise<Instance[]> {
  const { deps, spec, svc } = req;
  const started: Instance[] = [];
  try {
    await Promise.all(
      Array.from({ length: svc.replicas }, async (_, index) => {
        const inst = await deps.driver.start({
          project: spec.project,
          env: spec.env,
          service: svc,
          revision,
          version: spec.version,
          slot,
          index,
          env_vars: instanceEnv(spec, svc, revision),
          artifact: req.artifact,
        });
        const rec = { ...inst, artifact: req.artifact.ref };
        started.push(rec);
        await deps.store.putInstance(rec);
      }),
    );
  } catch (e) {
    await stopInstances(req.deps, svc, started);
    throw e;
  }
  started.sort((a, b) => a.index - b.index);
  return started;
}

/** Wait until every instance is healthy; on failure the message carries the instance's last log lines. */
export async function gateHealthy(req: RolloutRequest, instances: Instance[]): Promise<void> {
  const results = await Promise.all(
    instances.map(async (inst) => ({ inst, r: await req.deps.health(req.svc, inst, req.signal) })),
  );
  const bad = results.find((x) => !x.r.healthy);
  if (!bad) return;
  const tail = await lastLogLines(req.deps, bad.inst, 15);
  throw new OperationFailed(
    `${req.svc.name}: instance ${bad.inst.id} did not become healthy: ${bad.r.message}` +
      (tail ? `\n--- last log lines of ${bad.inst.id} ---\n${tail}` : ""),
  );
}

export async function lastLogLines(deps: EngineDeps, inst: Instance, n: number): Promise<string> {
  const lines: string[] = [];
  try {
    for await (const l of deps.driver.logs([inst], { tail: n })) lines.push(l.line);
  } catch {
    return "";
  }
  return lines.slice(-n).join("\n");
}

export function targetsOf(instances: Instance[], slot: Slot): RouteTarget[] {
  return instances
    .filter((i) => i.port !== undefined)
    .map((i) => ({ id: i.id, slot, url: `http://${i.host ?? "127.0.0.1"}:${i.port}` }));
}

export function buildRoute(
  spec: ResolvedSpec,
  svc: ResolvedService,
  stable: Instance[],
  candidate: Instance[] = [],
  candidateWeight = 0,
): Route {
  const edge = edgeOf(spec, svc);
  return {
    key: routeKey(spec, svc.name),
    listen: { host: spec.proxyHost, port: svc.port as number },
    ...(edge ? { edge } : {}),
    targets: [...targetsOf(stable, "stable"), ...targetsOf(candidate, "candidate")],
    candidateWeight,
    sticky: svc.rollout.sticky,
    drainTimeoutMs: svc.rollout.drainTimeout,
    // A snapshot written before the setting existed (undo, self-heal) has none.
    responseTimeoutMs: svc.rollout.responseTimeout ?? 60_000,
  };
}

export async function routeTo(
  req: RolloutRequest,
  stable: Instance[],
  candidate: Instance[] = [],
  weight = 0,
) {
  if (!proxied(req.svc)) return;
  const router = await req.deps.router();
  await router.setRoute(buildRoute(req.spec, req.svc, stable, candidate, weight));
}

/**
 * Stop instances and drop their records. With `retire` the driver keeps what it can of them (Docker:
 * the stopped container, for `docker logs` and `slipway logs --revision`); returns the kept names.
 */
export async function stopInstances(
  deps: EngineDeps,
  svc: ResolvedService,
  instances: Instance[],
  retire?: RetireReason,
): Promise<string[]> {
  const kept = await Promise.all(
    instances.map(async (inst) => {
      const r = await deps.driver.stop(inst, {
        signal: svc.stop.signal,
        graceMs: svc.stop.grace,
        ...(retire ? { retire } : {}),
      });
      await deps.store.removeInstance(inst.project, inst.env, inst.id);
      return r?.keptAs;
    }),
  );
  return kept.filter((k): k is string => k !== undefined);
}

/** One smoke request's outcome (`slipway smoke` prints them; a rollout fails on the first bad one). */
export interface SmokeResult {
  service: string;
  method: string;
  path: string;
  ok: boolean;
  status?: number;
  message: string;
  durationMs: number;
}

/**
 * One of a service's `smoke:` requests where users reach it: under its first domain through the
 * shared listener (HTTPS when it has tls), else through its public port.
 */
export async function smokeRequest(
  spec: ResolvedSpec,
  svc: ResolvedService,
  s: ResolvedService["smoke"][number],
): Promise<SmokeResult> {
  const host = spec.proxyHost === "0.0.0.0" ? "127.0.0.1" : spec.proxyHost;
  const url = `http://${host}:${svc.port}${s.http}`;
  const t0 = performance.now();
  const base = { service: svc.name, method: s.method, path: s.http };
  const took = () => Math.round(performance.now() - t0);
  let status = 0;
  let body = "";
  const edge = edgeOf(spec, svc);
  try {
    if (edge) ({ status, body } = await requestViaDomain(edge, s.method, s.http, 10_000));
    else {
      const res = await fetch(url, { method: s.method, signal: AbortSignal.timeout(10_000) });
      status = res.status;
      body = await res.text();
    }
  } catch (e) {
    const message = `${svc.name}: smoke ${s.method} ${s.http} failed: ${(e as Error).message}`;
    return { ...base, ok: false, message, durationMs: took() };
  }
  const fail = (message: string) => ({ ...base, ok: false, status, message, durationMs: took() });
  if (status !== s.expectStatus)
    return fail(`${svc.name}: smoke ${s.method} ${s.http} returned ${status}, expected ${s.expectStatus}`);
  if (s.expectBody && !body.includes(s.expectBody))
    return fail(`${svc.name}: smoke ${s.method} ${s.http}: body does not contain "${s.expectBody}"`);
  const message = `${svc.name}: smoke ${s.method} ${s.http} → ${status}`;
  return { ...base, ok: true, status, message, durationMs: took() };
}

/** Smoke requests through the public port after the switch. */
export async function smoke(req: RolloutRequest): Promise<void> {
  const { svc, spec } = req;
  if (!svc.port || !svc.smoke.length) return;
  for (const s of svc.smoke) {
    const r = await smokeRequest(spec, svc, s);
    if (!r.ok) throw new OperationFailed(r.message);
  }
}
