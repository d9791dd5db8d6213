/**
 * Containers as instances: everything Slipway needs is in a container's labels and state, so
 * an Instance is rebuilt from the engine alone (adoption after a daemon restart).
 */
import type Docker from "dockerode";
import type { ContainerInspectInfo } from "dockerode";
import type { Instance, InstanceState, Slot } from "../driver.js";
import { status, type Engines } from "./engines.js";
import { engineError, type EngineHost } from "./hosts.js";
import { LABELS, retiredReason } from "./names.js";

const STATES: Record<string, InstanceState> = {
  created: "starting",
  running: "running",
  paused: "running",
  restarting: "restarting",
  removing: "exited",
  exited: "exited",
  dead: "exited",
};

/** An Instance from a container's labels and state alone (adoption after a daemon restart). */
export function toInstance(info: ContainerInspectInfo, h: EngineHost): Instance | undefined {
  const l = info.Config.Labels ?? {};
  const [project, env, service] = [l[LABELS.project], l[LABELS.env], l[LABELS.service]];
  if (!project || !env || !service) return undefined;
  const port = l[LABELS.port];
  const bound = port ? info.NetworkSettings.Ports?.[`${port}/tcp`]?.[0] : undefined;
  let state = STATES[info.State.Status] ?? "exited";
  if (state === "restarting" && info.RestartCount >= 5) state = "crashloop";
  // Remote engines: a port bound to the host's loopback or to every address is reached via the host's name.
  const ip = bound?.HostIp || "127.0.0.1";
  const host =
    h.remote && /^(127\.|0\.0\.0\.0$|::1?$)/.test(ip) ? h.address : ip === "0.0.0.0" ? "127.0.0.1" : ip;
  return {
    id: info.Name.replace(/^\//, ""),
    project,
    env,
    service,
    revision: Number(l[LABELS.revision] ?? 0),
    version: l[LABELS.version] ?? "",
    slot: (l[LABELS.slot] === "candidate" ? "candidate" : "stable") as Slot,
    index: Number(l[LABELS.index] ?? 0),
    state,
    ...(bound?.HostPort ? { host, port: Number(bound.HostPort) } : {}),
    startedAt: info.State.StartedAt || info.Created,
    restarts: info.RestartCount ?? 0,
    ...(info.State.Status === "exited" || info.State.Status === "dead"
      ? { lastExit: { code: info.State.ExitCode ?? null, signal: null, at: info.State.FinishedAt } }
      : {}),
    meta: {
      containerId: info.Id,
      host: h.key,
      ...(retiredReason(info.Name) ? { retired: retiredReason(info.Name) } : {}),
      image: info.Config.Image,
      ...(info.State.Health ? { dockerHealth: info.State.Health.Status } : {}),
      ...(info.State.Health?.Status === "unhealthy" ? { dockerHealthOutput: lastHealthOutput(info) } : {}),
      ...(port ? { containerPort: Number(port) } : {}),
    },
  };
}

/** A listed container's name without the leading slash. */
export function nameOf(c: Docker.ContainerInfo): string {
  return (c.Names[0] ?? "").replace(/^\//, "");
}

/** The last line of Docker's last health check output (why it says unhealthy). */
function lastHealthOutput(info: ContainerInspectInfo): string {
  const log = info.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  const line = (last?.Output ?? "").trim().split("\n").slice(-1)[0] ?? "";
  return `${last ? `exit ${last.ExitCode}` : "no check logged"}${line ? `: ${line.slice(0, 200)}` : ""}`;
}

/**
 * The environment's containers on every host that pass `keep`, inspected. A container started
 * through another host entry that reaches the same engine is that entry's, not this one's.
 */
export async function containersOf(
  engines: Engines,
  project: string,
  env: string,
  keep: (c: Docker.ContainerInfo) => boolean,
): Promise<Instance[]> {
  const all = await Promise.all(
    engines.hosts.map(async (h) => {
      const list = await engines.on(h, (d) =>
        d.listContainers({
          all: true,
          filters: { label: [`${LABELS.project}=${project}`, `${LABELS.env}=${env}`] },
        }),
      );
      const infos = await Promise.all(
        list
          .filter((c) => keep(c) && (c.Labels[LABELS.host] ?? h.key) === h.key)
          .map((c) =>
            h.docker
              .getContainer(c.Id)
              .inspect()
              .catch(() => undefined),
          ),
      );
      return infos.flatMap((i) => (i ? [toInstance(i, h)].filter((x): x is Instance => !!x) : []));
    }),
  );
  return all.flat();
}

/** One instance's container inspected (undefined: it is gone). */
export async function inspectInstance(
  engines: Engines,
  instance: Instance,
): Promise<{ info: ContainerInspectInfo; h: EngineHost; c: Docker.Container } | undefined> {
  const { h, c } = engines.containerOf(instance);
  try {
    return { info: await c.inspect(), h, c };
  } catch (e) {
    if (status(e) === 404) return undefined;
    throw engineError(h, e);
  }
}
