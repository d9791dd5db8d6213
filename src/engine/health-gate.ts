/**
 * The health gate the engine uses: the service's declared probe (or a TCP probe on its port,
 * or "still running after a moment" for a service with neither), waited on with the
 * service's thresholds. `once` is a single probe (status).
 */
import type { Driver, Instance } from "../drivers/driver.js";
import { AllProbe, createProbe, waitHealthy, type Probe } from "../health/index.js";
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

/** A probe whose `exec` runs inside the instance (containers) through the driver. */
function probeFor(health: Health, inst: Instance, driver?: Pick<Driver, "exec">): Probe {
  if (health.exec === undefined || !driver?.exec) return createProbe(health);
  const exec = driver.exec.bind(driver);
  const cmd = health.exec;
  const inside: Probe = {
    kind: "exec",
    async check(_t, o) {
      const t0 = performance.now();
      try {
        const r = await exec(inst, ["/bin/sh", "-c", cmd], { timeoutMs: o.timeoutMs });
        const tail = r.output.trim().split("\n").slice(-1)[0] ?? "";
        return {
          ok: r.exitCode === 0,
          message: `exec in ${inst.id}: exit ${r.exitCode}${tail ? `: ${tail}` : ""}`,
          durationMs: performance.now() - t0,
        };
      } catch (e) {
        return {
          ok: false,
          message: `exec in ${inst.id}: ${(e as Error).message}`,
          durationMs: performance.now() - t0,
        };
      }
    },
  };
  const rest = { ...health, exec: undefined };
  const others =
    rest.http !== undefined || rest.tcp || rest.postgres !== undefined || rest.redis !== undefined;
  return others ? new AllProbe([createProbe(rest), inside]) : inside;
}

/** The engine's health gate; `driver` runs `exec` probes inside containers when it can. */
export function makeHealthGate(driver?: Pick<Driver, "exec">): HealthGate {
  return (svc, inst, signal, opts) => gate(svc, inst, signal, opts, driver);
}

const gate = async (
  svc: ResolvedService,
  inst: Instance,
  signal: AbortSignal | undefined,
  opts: { once?: boolean } | undefined,
  driver?: Pick<Driver, "exec">,
) => {
  const health = effectiveHealth(svc);
  if (!health) return settle(inst, opts?.once ? 0 : 1000, signal);
  const probe = probeFor(health, inst, driver);
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
