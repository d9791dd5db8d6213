/**
 * The factory's driver cache: one concrete driver per target (a docker socket/hosts block
 * is its own target), loaded lazily because dockerode is heavy.
 */
import type { PreflightTarget } from "../checks/types.js";
import type { Driver } from "../drivers/driver.js";
import type { DockerDriver } from "../drivers/docker/docker-driver.js";
import { DriverError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Target } from "../spec/schema.js";
import type { KubernetesTarget } from "../spec/schema-kubernetes.js";

export class DriverCache {
  private readonly drivers = new Map<string, Driver>();

  constructor(private readonly opts: { home: string; logger: Logger }) {}

  async driverFor(target: Target): Promise<Driver> {
    const key = JSON.stringify(target);
    let d = this.drivers.get(key);
    if (d) return d;
    d = await this.load(target);
    this.drivers.set(key, d);
    return d;
  }

  private async load(target: Target): Promise<Driver> {
    const { home, logger } = this.opts;
    const kind = target.kind;
    if (kind === "process") {
      const { ProcessDriver } = await import("../drivers/process/process-driver.js");
      return new ProcessDriver({ home, logger });
    }
    if (kind === "docker") {
      const { DockerDriver } = await import("../drivers/docker/docker-driver.js");
      const t = target as {
        socket?: string;
        hosts?: Array<string | { ssh: string; publish?: string }>;
        ssh?: { key?: string; knownHosts?: string };
      };
      return new DockerDriver({
        home,
        logger,
        socketPath: t.socket,
        hosts: t.hosts,
        ssh: { privateKeyPath: t.ssh?.key, knownHostsPath: t.ssh?.knownHosts },
      });
    }
    if (kind === "kubernetes") {
      const { KubernetesDriver } = await import("../drivers/kubernetes/kubernetes-driver.js");
      return new KubernetesDriver({ target: target as KubernetesTarget, logger });
    }
    throw new DriverError(kind, `the ${kind} target is not available in this build`);
  }

  /** A stand-in that loads the real driver on its first call (drivers load lazily). */
  lazy(target: Target): Driver {
    const kind = target.kind;
    const driverFor = () => this.driverFor(target);
    const call =
      <K extends keyof Driver>(k: K) =>
      async (...args: unknown[]) =>
        ((await driverFor())[k] as (...a: unknown[]) => unknown)(...args);
    return {
      name: kind,
      capabilities: { trafficSplit: true, gpus: kind === "docker", exec: true, stats: true, adopt: true },
      prepare: call("prepare") as Driver["prepare"],
      inspect: call("inspect") as Driver["inspect"],
      start: call("start") as Driver["start"],
      stop: call("stop") as Driver["stop"],
      runOnce: call("runOnce") as Driver["runOnce"],
      stats: call("stats") as Driver["stats"],
      // Only containers have a live state beyond their pids (exited, Docker's health status).
      live:
        kind === "docker" || kind === "kubernetes"
          ? (call("live") as NonNullable<Driver["live"]>)
          : undefined,
      // Kept after they stop (retired), for their logs: containers, and process instances' logs.
      retired:
        kind === "docker" || kind === "process"
          ? (call("retired") as NonNullable<Driver["retired"]>)
          : undefined,
      prune: call("prune") as Driver["prune"],
      destroyEnvironment: async (project, env, o) =>
        (await driverFor()).destroyEnvironment?.(project, env, o) ?? [],
      sourceDigest: async (project, env, svc) => (await driverFor()).sourceDigest?.(project, env, svc),
      // Only containers run commands inside the instance (Kubernetes: the exec subresource);
      // process instances run them on the host.
      exec:
        kind === "docker" || kind === "kubernetes"
          ? async (inst, cmd, o) => {
              const d = await driverFor();
              if (!d.exec) throw new DriverError(kind, "exec is not supported");
              return d.exec(inst, cmd, o);
            }
          : undefined,
      logs: (instances, o) => ({
        async *[Symbol.asyncIterator]() {
          yield* (await driverFor()).logs(instances, o);
        },
      }),
    };
  }

  /**
   * Pre-flight checks measure the machines of a Docker target (over the driver's SSH settings)
   * and ask its engines for the NVIDIA runtime; the driver is loaded only when a check asks.
   * Undefined: the checks measure this machine.
   */
  preflight(target: Target): PreflightTarget | undefined {
    if (target.kind !== "docker") return undefined;
    const docker = async () => (await this.driverFor(target)) as DockerDriver;
    return {
      hosts: async () => (await docker()).hostShells(),
      gpuSupport: async () => (await docker()).gpuSupport(),
    };
  }

  async close(): Promise<void> {
    for (const d of this.drivers.values()) await d.close?.();
  }
}
