/**
 * `slipway scale ENV SVC N`: change how many instances of a service run, without a new revision.
 * Up: new instances of the serving release (same revision, artifact and version), health-gated,
 * then routed. Down: the highest ordinals leave the route first (drained), then stop. Recorded as
 * an event and in the scale record (engine/scale-record.ts), which says what the next deploy keeps.
 */
import type { Instance } from "../drivers/driver.js";
import { Refused, UsageError } from "../errors.js";
import { proxied } from "../spec/defaults.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import { artifactRevision } from "./artifacts.js";
import { servesIn, servingRevision } from "./carry.js";
import type { EngineDeps } from "./context.js";
import { revisionResolution } from "./deployed.js";
import { noopSink, type EventSink } from "./events.js";
import { locked } from "./locked.js";
import { readScale, writeScale } from "./scale-record.js";
import {
  gateHealthy,
  routeTo,
  stopInstances,
  instanceEnv,
  type RolloutRequest,
} from "./strategies/common.js";
import { isWarm } from "./warm.js";

export interface ScaleOptions {
  emit?: EventSink;
  signal?: AbortSignal;
}

export interface ScaleResult {
  project: string;
  env: string;
  service: string;
  revision: number;
  from: number;
  to: number;
  /** The spec's `replicas`: the count a deploy whose spec changes it goes back to. */
  specReplicas: number;
  started: string[];
  stopped: string[];
}

/** Why a service cannot be scaled by hand, if it cannot. */
function refusal(spec: ResolvedSpec, svc: ResolvedService, n: number, own: boolean): Error | undefined {
  if (svc.autoscale)
    return new Refused(
      `${svc.name} is autoscaled (min ${svc.autoscale.min}, max ${svc.autoscale.max}): the autoscaler owns its ` +
        `replica count; change autoscale.min/max in the spec and deploy instead`,
    );
  if (svc.stateful && n > 1)
    return new UsageError(`${svc.name} is stateful: it runs one instance (scale it to 0 or 1)`);
  if (spec.target.kind === "kubernetes" && !own)
    return new UsageError(`scale is not supported by the kubernetes driver yet (set replicas and deploy)`);
  return undefined;
}

export async function scale(
  deps: EngineDeps,
  resolution: Resolution,
  service: string,
  replicas: number,
  opts: ScaleOptions = {},
): Promise<ScaleResult> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 1000)
    throw new UsageError(`replicas: expected a whole number from 0 to 1000, got ${replicas}`);
  return locked(deps, cur, "scale", emit, async () => {
    const current = await deps.store.currentRevision(cur.project, cur.env);
    if (!current) throw new UsageError(`nothing is deployed in ${cur.env}: deploy before scaling`);
    const spec = revisionResolution(current, resolution).spec;
    const svc = spec.services[service];
    if (!svc)
      throw new UsageError(
        `no service "${service}" in revision ${current.number} of ${cur.env} (services: ${Object.keys(spec.services).join(", ")})`,
      );
    const problem = refusal(spec, svc, replicas, !!deps.driver.scale);
    if (problem) throw problem;
    const live = (await deps.store.listInstances(cur.project, cur.env)).filter(
      (i) => i.service === service && !isWarm(i) && servesIn(current, i),
    );
    const rec = await readScale(deps.store, cur.project, cur.env);
    const specReplicas = rec[service]?.specReplicas ?? svc.replicas;
    const out: ScaleResult = {
      project: cur.project,
      env: cur.env,
      service,
      revision: servingRevision(current, service),
      from: live.length,
      to: replicas,
      specReplicas,
      started: [],
      stopped: [],
    };
    if (deps.driver.scale) {
      const now = await deps.driver.scale(cur.project, cur.env, { ...svc, replicas: specReplicas }, replicas);
      out.started = now.map((i) => i.id);
    } else if (replicas > live.length)
      out.started = await scaleUp(deps, spec, svc, current, live, replicas, opts);
    else if (replicas < live.length) out.stopped = await scaleDown(deps, spec, svc, live, replicas);
    if (replicas === specReplicas) delete rec[service];
    else rec[service] = { replicas, specReplicas, at: new Date().toISOString(), actor: deps.actor };
    await writeScale(deps.store, cur.project, cur.env, rec);
    const message = `${cur.project} ${cur.env}: ${service} scaled from ${out.from} to ${replicas} instance(s) by ${deps.actor}`;
    await deps.store.addEvent({
      project: cur.project,
      env: cur.env,
      time: new Date().toISOString(),
      kind: "service.scaled",
      severity: "info",
      service,
      revision: out.revision,
      message,
      data: { from: out.from, to: replicas, specReplicas, actor: deps.actor },
    });
    emit({ type: "log", level: "info", service, message });
    return out;
  });
}

function request(
  deps: EngineDeps,
  spec: ResolvedSpec,
  svc: ResolvedService,
  emit?: EventSink,
): RolloutRequest {
  return {
    deps,
    spec,
    svc,
    revision: 0,
    artifact: { service: svc.name, revision: 0, ref: "" },
    old: [],
    emit: emit ?? noopSink,
    record: async () => {},
  };
}

async function scaleUp(
  deps: EngineDeps,
  spec: ResolvedSpec,
  svc: ResolvedService,
  current: NonNullable<Awaited<ReturnType<EngineDeps["store"]["currentRevision"]>>>,
  live: Instance[],
  replicas: number,
  opts: ScaleOptions,
): Promise<string[]> {
  const revision = servingRevision(current, svc.name);
  const artRev = artifactRevision(current, svc.name) ?? revision;
  const artifact = await deps.driver.prepare(spec.project, spec.env, svc, artRev, { existingOnly: true });
  // The new instances run what the others run: their release label too (a kept service's is older).
  const version = live[0]?.version ?? current.version;
  const runSpec = { ...spec, version };
  const used = new Set(live.map((i) => i.index));
  const free: number[] = [];
  for (let i = 0; free.length < replicas - live.length; i++) if (!used.has(i)) free.push(i);
  const started: Instance[] = [];
  try {
    await Promise.all(
      free.map(async (index) => {
        const inst = await deps.driver.start({
          project: spec.project,
          env: spec.env,
          service: svc,
          revision,
          version,
          slot: live[0]?.slot ?? "stable",
          index,
          env_vars: instanceEnv(runSpec, svc, revision),
          artifact,
        });
        const rec = { ...inst, artifact: artifact.ref };
        started.push(rec);
        await deps.store.putInstance(rec);
      }),
    );
    const req = { ...request(deps, runSpec, svc, opts.emit), signal: opts.signal };
    await gateHealthy(req, started);
    await routeTo(
      req,
      [...live, ...started].sort((a, b) => a.index - b.index),
    );
  } catch (e) {
    await stopInstances(deps, svc, started, "failed");
    throw e;
  }
  return started.map((i) => i.id);
}

async function scaleDown(
  deps: EngineDeps,
  spec: ResolvedSpec,
  svc: ResolvedService,
  live: Instance[],
  replicas: number,
): Promise<string[]> {
  const byIndex = [...live].sort((a, b) => a.index - b.index);
  const keep = byIndex.slice(0, replicas);
  const leave = byIndex.slice(replicas);
  // Out of the route first, and drained (requests in flight finish) before they are stopped.
  await routeTo(request(deps, spec, svc), keep);
  if (proxied(svc))
    await (
      await deps.router()
    ).waitDrained(
      leave.map((i) => i.id),
      svc.rollout.drainTimeout,
    );
  await stopInstances(deps, svc, leave);
  return leave.map((i) => i.id);
}
