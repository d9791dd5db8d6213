/** Resource usage of a running container, computed the way `docker stats` shows it. */
import type { Instance, InstanceStats } from "../driver.js";
import { inspectInstance } from "./containers.js";
import type { Engines } from "./engines.js";

export async function containerStats(
  engines: Engines,
  instance: Instance,
): Promise<InstanceStats | undefined> {
  const found = await inspectInstance(engines, instance);
  if (!found?.info.State.Running) return undefined;
  const { info, h, c } = found;
  const s = await engines.on(h, () => c.stats({ stream: false }));
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (s.precpu_stats.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  const cores = sysDelta > 0 ? (cpuDelta / sysDelta) * online : 0;
  const limitCores = info.HostConfig.NanoCpus ? info.HostConfig.NanoCpus / 1e9 : 1;
  const mem = s.memory_stats as { usage?: number; limit?: number; stats?: Record<string, number> };
  // Page cache is reclaimable: report what `docker stats` reports (usage minus cache).
  const cache = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? mem.stats?.cache ?? 0;
  return {
    cpu: Math.max(0, cores / limitCores),
    memory: Math.max(0, (mem.usage ?? 0) - cache),
    ...(mem.limit ? { memoryLimit: mem.limit } : {}),
  };
}
