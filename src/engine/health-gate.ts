/**
 * The health gate the engine uses: the service's declared probe (or a TCP probe on its port,
 * or "still running after a moment" for a service with neither), waited on with the
 * service's thresholds. `once` is a single probe (status).
 */
import type { Driver, Instance } from "../drivers/driver.js";
import { AllProbe, createProbe, waitHealthy, type Probe } from "../health/index.js";
import type { Health } from "../spec/schema.js";
import type { ResolvedService } from "../spec/resolved.js";
import { formatMs } from "../health/signal.js";
import { sleep } from "../util/sleep.js";
import type { HealthGate } from "./context.js";
import { pidAlive } from "../util/pid.js";

/** What the gate asks of the driver: exec probes inside the instance, and its live state. */
type GateDriver = Pick<Driver, "exec" | "live">;

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

/**
 * Why an instance can no longer become healthy, from its live state: the container is gone or
 * exited, the engine restarted it since the gate began, or Docker's own health check says
 * unhealthy. undefined: still in the running.
 */
export function deadReason(now: Instance | undefined, started: Instance): string | undefined {
  if (!now) return "the container is gone";
  if (now.state === "exited")
    return `the container exited${now.lastExit?.code != null ? ` with code ${now.lastExit.code}` : ""}`;
  if (now.state === "crashloop" || now.state === "restarting" || now.restarts > started.restarts)
    return `the container exited and the engine restarted it (${now.restarts} restart(s))`;
  if (now.meta?.dockerHealth === "unhealthy") {
    const out = now.meta.dockerHealthOutput;
    return `Docker reports the container unhealthy${typeof out === "string" && out ? ` (${out})` : ""}`;
  }
  return undefined;
}

/**
 * After Slipway's own probe passed: a container with a Docker HEALTHCHECK (the image's, or the
 * one an exec probe installs) must also be reported healthy by Docker, as Kamal waits for it.
 * Returns the failure, or undefined when healthy (or when the container has no health check).
 */
async function awaitDockerHealth(
  live: NonNullable<GateDriver["live"]>,
  inst: Instance,
  startTimeout: number,
  interval: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const giveUpAt = (Date.parse(inst.startedAt) || Date.now()) + startTimeout;
  for (;;) {
    const now = await live(inst);
    const dead = deadReason(now, inst);
    if (dead) return dead;
    const status = now?.meta?.dockerHealth;
    if (status === undefined || status === "healthy") return undefined;
    if (signal?.aborted) return "wait cancelled";
    if (Date.now() >= giveUpAt)
      return `Docker still reports the container "${String(status)}" ${formatMs(startTimeout)} after it started`;
    await sleep(Math.min(interval, 500), signal);
  }
}

/** The engine's health gate; `driver` runs `exec` probes inside containers when it can. */
export function makeHealthGate(driver?: GateDriver): HealthGate {
  return (svc, inst, signal, opts) => gate(svc, inst, signal, opts, driver);
}

const gate = async (
  svc: ResolvedService,
  inst: Instance,
  signal: AbortSignal | undefined,
  opts: { once?: boolean } | undefined,
  driver?: GateDriver,
) => {
  const health = effectiveHealth(svc);
  const live = driver?.live?.bind(driver);
  if (!health) {
    const r = await settle(inst, opts?.once ? 0 : 1000, signal, live);
    if (!r.healthy || opts?.once || !live) return r;
    const bad = await awaitDockerHealth(live, inst, DEFAULTS.startTimeout, DEFAULTS.interval, signal);
    return bad ? { healthy: false, message: bad, attempts: 1 } : r;
  }
  const probe = probeFor(health, inst, driver);
  const target = {
    host: inst.host ?? "127.0.0.1",
    port: inst.port,
    // exec runs where the app does (its release directory), with its port.
    cwd: ((inst.meta?.release ?? inst.meta?.dir) as string) ?? undefined,
    env: { ...svc.env, ...(inst.port !== undefined ? { PORT: String(inst.port) } : {}) },
  };
  if (opts?.once) {
    const r = await probe.check(target, { timeoutMs: Math.min(health.timeout, 2000), signal });
    return { healthy: r.ok, message: r.message, attempts: 1 };
  }
  const pid = inst.pid;
  // A container that exited, or that Docker already reports unhealthy, ends the wait at once
  // instead of at startTimeout.
  let why: string | undefined;
  const alive = live
    ? async () => {
        why = deadReason(await live(inst).catch(() => inst), inst);
        return !why;
      }
    : () => pid === undefined || pidAlive(pid);
  const r = await waitHealthy(probe, target, health, {
    signal,
    startedAt: Date.parse(inst.startedAt) || Date.now(),
    alive,
  });
  if (!r.healthy)
    return { healthy: false, message: why ? `${why}; ${r.message}` : r.message, attempts: r.attempts };
  const bad = live
    ? await awaitDockerHealth(live, inst, health.startTimeout, health.interval, signal)
    : undefined;
  if (bad) return { healthy: false, message: `${bad} (Slipway's probe passed)`, attempts: r.attempts };
  return { healthy: true, message: r.message, attempts: r.attempts };
};

/** No probe declared and no port: healthy when the instance is still up after a moment. */
async function settle(
  inst: Instance,
  ms: number,
  signal?: AbortSignal,
  live?: NonNullable<GateDriver["live"]>,
) {
  await new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), r()));
  });
  if (live) {
    const dead = deadReason(await live(inst).catch(() => inst), inst);
    if (dead) return { healthy: false, message: dead, attempts: 1 };
  }
  const pid = inst.appPid ?? inst.pid;
  if (pid !== undefined && !pidAlive(pid))
    return { healthy: false, message: `process ${pid} exited`, attempts: 1 };
  return { healthy: true, message: "running", attempts: 1 };
}
