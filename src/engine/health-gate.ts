/**
 * The health gate the engine uses: the service's declared probe (or a TCP probe on its port,
 * or "still running after a moment" for a service with neither), waited on with the
 * service's thresholds. `once` is a single probe (status).
 */
import type { Instance } from "../drivers/driver.js";
import { createProbe, waitHealthy } from "../health/index.js";
import type { Health } from "../spec/schema.js";
import type { ResolvedService } from "../spec/resolved.js";
import type { HealthGate } from "./context.js";
import { pidAlive } from "./lock.js";

const DEFAULTS: Health = {
  interval: 1000,
  timeout: 2000,
  startPeriod: 0,
  startTimeout: 60_000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
};

export function effectiveHealth(svc: ResolvedService): Health | undefined {
  const h = svc.health;
  const hasKind =
    h &&
    (h.http !== undefined ||
      h.tcp ||
      h.exec !== undefined ||
      h.postgres !== undefined ||
      h.redis !== undefined);
  if (h && hasKind) return h;
  // Timings without a probe kind, or nothing at all: a TCP probe on the port.
  if (svc.port !== undefined) return { ...DEFAULTS, ...(h ?? {}), tcp: true };
  return undefined;
}

export const healthGate: HealthGate = async (svc, inst, signal, opts) => {
  const health = effectiveHealth(svc);
  if (!health) return settle(inst, opts?.once ? 0 : 1000, signal);
  const probe = createProbe(health);
  const target = {
    host: inst.host ?? "127.0.0.1",
    port: inst.port,
    cwd: (inst.meta?.dir as string) ?? undefined,
    env: svc.env,
  };
  if (opts?.once) {
    const r = await probe.check(target, { timeoutMs: Math.min(health.timeout, 2000), signal });
    return { healthy: r.ok, message: r.message, attempts: 1 };
  }
  const pid = inst.pid;
  const r = await waitHealthy(probe, target, health, {
    signal,
    startedAt: Date.parse(inst.startedAt) || Date.now(),
    alive: () => pid === undefined || pidAlive(pid),
  });
  return { healthy: r.healthy, message: r.message, attempts: r.attempts };
};

/** No probe declared and no port: healthy when the instance is still up after a moment. */
async function settle(inst: Instance, ms: number, signal?: AbortSignal) {
  await new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), r()));
  });
  const pid = inst.appPid ?? inst.pid;
  if (pid !== undefined && !pidAlive(pid))
    return { healthy: false, message: `process ${pid} exited`, attempts: 1 };
  return { healthy: true, message: "running", attempts: 1 };
}
