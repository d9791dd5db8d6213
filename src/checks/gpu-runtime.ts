/**
 * The automatic pre-flight item for services that request GPUs on a Docker target: every engine
 * host they run on must have the NVIDIA runtime registered (`docker info` Runtimes), or the
 * deploy would only fail later, when the container is created. One item per host.
 */
import type { AutomaticCheck, PreflightTarget } from "./types.js";
import { failed, passed } from "./types.js";

/** The slice of a resolved service this needs. */
export interface GpuService {
  name: string;
  resources?: { gpus?: unknown };
  /** Multi-host targets: the host keys the service runs on. */
  placement?: string[];
}

export function gpuRuntimeChecks(
  services: Iterable<GpuService>,
  target: PreflightTarget | undefined,
): AutomaticCheck[] {
  const support = target?.gpuSupport?.bind(target);
  if (!support) return [];
  const byHost = new Map<string, string[]>();
  for (const s of services) {
    if (!s.resources?.gpus) continue;
    // No placement: the local engine (a multi-host target always has one, set by resolve()).
    for (const h of s.placement?.length ? s.placement : ["local"])
      byHost.set(h, [...(byHost.get(h) ?? []), s.name]);
  }
  if (!byHost.size) return [];
  // One `docker info` per host for all the items.
  let answer: ReturnType<typeof support> | undefined;
  const lookup = () => (answer ??= support());
  return [...byHost].map(([host, names]) => ({
    name: `gpu runtime on ${host}`,
    kind: "gpu",
    timeoutMs: 15_000,
    async run() {
      const needs = `service${names.length > 1 ? "s" : ""} ${names.join(", ")} request${names.length > 1 ? "" : "s"} GPUs`;
      const all = await lookup();
      const h = all.find((x) => x.host === host);
      if (!h) return failed(`${needs}, but ${host} is not a host of this target`);
      if (h.error) return failed(`${needs}, but cannot ask the engine on ${host}: ${h.error}`);
      const details = { host, services: names, runtimes: h.runtimes };
      const seen = `docker info runtimes: ${h.runtimes.join(", ") || "none"}`;
      return h.nvidia
        ? passed(`NVIDIA runtime registered on ${host} (${seen}); ${needs}`, details)
        : failed(
            `${needs}, but ${host} has no NVIDIA runtime (${seen}); install the NVIDIA Container Toolkit ` +
              "and restart dockerd, or remove resources.gpus",
            details,
          );
    },
  }));
}
