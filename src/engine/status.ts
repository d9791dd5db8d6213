/** `slipway status` / `health`: what runs, per service and instance, beside what was recorded. */
import type { Instance } from "../drivers/driver.js";
import { errorMessage } from "../errors.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";
import type { LockInfo } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { snapshotOf } from "./deployed.js";
import { serviceUrls } from "./run.js";
import { readScale } from "./scale-record.js";

export interface InstanceStatus {
  id: string;
  service: string;
  revision: number;
  version: string;
  slot: string;
  state: string;
  pid?: number;
  address?: string;
  startedAt: string;
  restarts: number;
  /** Kept warm after a promotion until then (a rollback to it is a switch). */
  warmUntil?: string;
  health?: { ok: boolean; message: string };
  /** Docker's own health status of the container (starting, healthy, unhealthy), when it has a check. */
  dockerHealth?: string;
}

export interface ServiceStatus {
  name: string;
  /** `unknown`: the target could not be inspected (see EnvStatus.unreachable). */
  status: "running" | "degraded" | "stopped" | "starting" | "unknown";
  strategy: string;
  replicas: number;
  /** Set by `slipway scale`: the spec's count (`from`) and who scaled it. */
  scaled?: { from: number; by: string };
  url?: string;
  /** Further ports published directly (`ports:`), as host:port by name. */
  ports?: { name: string; address: string }[];
  instances: InstanceStatus[];
}

/** The daemon that answered `status` (absent in-process): `daemon` in `status --json`. */
export interface DaemonRun {
  pid: number;
  startedAt: string;
  /** The previous daemon of this SLIPWAY_HOME stopped without shutting down (killed, crashed). */
  afterUncleanStop: boolean;
  /** When that previous daemon had started, when known. */
  previousStartedAt?: string;
}

export interface EnvStatus {
  project: string;
  env: string;
  target: string;
  revision?: { number: number; version: string; status: string; createdAt: string; actor: string };
  lock?: LockInfo;
  services: ServiceStatus[];
  daemon?: DaemonRun;
  /** The target could not be inspected (a cluster or Docker Engine not reachable): why. Instance states are then `unknown`. */
  unreachable?: string;
}

export async function envStatus(
  deps: EngineDeps,
  spec: ResolvedSpec,
  opts: { probe?: boolean } = {},
): Promise<EnvStatus> {
  const { store, driver } = deps;
  let unreachable: string | undefined;
  const [current, lock, records, live, scaled] = await Promise.all([
    store.currentRevision(spec.project, spec.env),
    store.getLock(spec.project, spec.env),
    store.listInstances(spec.project, spec.env),
    driver.inspect(spec.project, spec.env).catch((e: unknown) => {
      // Not "exited": what runs there is unknown, and saying so beats a wrong answer.
      unreachable = `${spec.target.kind} target could not be inspected: ${errorMessage(e)}`;
      return [] as Instance[];
    }),
    readScale(store, spec.project, spec.env),
  ]);
  const liveById = new Map(live.map((i) => [i.id, i]));
  const deployed = snapshotOf(current)?.services ?? {};
  const names = [...new Set([...Object.keys(spec.services), ...records.map((r) => r.service)])];
  const urls = new Map(serviceUrls(spec).map((u) => [u.service, u.url]));
  const services: ServiceStatus[] = [];
  for (const name of names) {
    const base = spec.services[name] ?? deployed[name];
    // `slipway scale` set another count than the spec's: that is what should run.
    const svc = base && scaled[name] ? { ...base, replicas: scaled[name].replicas } : base;
    const insts = records.filter((r) => r.service === name);
    const statuses = await Promise.all(
      insts.map((r) => instanceStatus(deps, r, liveById.get(r.id), svc, opts.probe !== false)),
    );
    if (unreachable) for (const st of statuses) st.state = "unknown";
    services.push({
      name,
      status: unreachable && statuses.length ? "unknown" : serviceState(statuses, svc),
      strategy: svc?.rollout.strategy ?? "?",
      replicas: svc?.replicas ?? 0,
      ...(scaled[name] ? { scaled: { from: scaled[name].specReplicas, by: scaled[name].actor } } : {}),
      url: insts.length ? urls.get(name) : undefined,
      ...(insts.length && svc?.ports?.length ? { ports: extraPortAddresses(spec, svc) } : {}),
      instances: statuses,
    });
  }
  return {
    project: spec.project,
    env: spec.env,
    target: spec.target.kind,
    revision: current
      ? {
          number: current.number,
          version: current.version,
          status: current.status,
          createdAt: current.createdAt,
          actor: current.actor,
        }
      : undefined,
    lock,
    services,
    ...(unreachable ? { unreachable } : {}),
  };
}

function extraPortAddresses(spec: ResolvedSpec, svc: ResolvedService): { name: string; address: string }[] {
  const host = spec.proxyHost === "0.0.0.0" ? "127.0.0.1" : spec.proxyHost;
  return (svc.ports ?? []).map((p) => ({ name: p.name, address: `${host}:${p.port}` }));
}

async function instanceStatus(
  deps: EngineDeps,
  r: Instance,
  l: Instance | undefined,
  svc: ResolvedService | undefined,
  probe: boolean,
): Promise<InstanceStatus> {
  const st: InstanceStatus = {
    id: r.id,
    service: r.service,
    revision: r.revision,
    version: r.version,
    slot: r.warmUntil ? "warm" : r.slot,
    state: l ? l.state : "exited",
    warmUntil: r.warmUntil,
    pid: l?.appPid ?? l?.pid,
    address: r.port ? `${r.host ?? "127.0.0.1"}:${r.port}` : undefined,
    startedAt: r.startedAt,
    restarts: l?.restarts ?? r.restarts,
    ...(typeof l?.meta?.dockerHealth === "string" ? { dockerHealth: l.meta.dockerHealth } : {}),
  };
  if (probe && l && svc) {
    const h = await deps
      .health(svc, l, AbortSignal.timeout(3000), { once: true })
      .catch((e) => ({ healthy: false, message: errorMessage(e), attempts: 1 }));
    st.health = { ok: h.healthy, message: h.message };
  }
  return st;
}

function serviceState(statuses: InstanceStatus[], svc: ResolvedService | undefined): ServiceStatus["status"] {
  const serving = statuses.filter((s) => !s.warmUntil);
  if (!serving.length) return "stopped";
  const running = serving.filter(
    (s) => s.state === "running" && s.health?.ok !== false && s.dockerHealth !== "unhealthy",
  );
  if (serving.some((s) => s.state === "crashloop")) return "degraded";
  if (running.length >= (svc?.replicas ?? 1)) return "running";
  if (serving.some((s) => s.state === "starting")) return "starting";
  return "degraded";
}
