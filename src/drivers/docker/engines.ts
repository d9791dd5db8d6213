/**
 * The engines one DockerDriver talks to, and which of them a service or an instance lives on.
 * Every part of the driver (images, networks, lifecycle, logs, stats) goes through this one
 * object, so that engine errors are worded the same way whichever part met them.
 */
import type Docker from "dockerode";
import type { Instance } from "../driver.js";
import { DriverError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { engineError, type EngineHost } from "./hosts.js";

interface HttpError {
  statusCode?: number;
  message?: string;
}
/** The HTTP status of an engine error (404: no such object, 409: conflict). */
export const status = (e: unknown): number | undefined => (e as HttpError)?.statusCode;

export class Engines {
  constructor(
    readonly hosts: EngineHost[],
    readonly logger: Logger,
    private readonly publishAddress: string,
  ) {}

  /** Run `fn` against a host's engine; its failures become DriverErrors that name the host. */
  async on<T>(h: EngineHost, fn: (d: Docker) => Promise<T>): Promise<T> {
    try {
      return await fn(h.docker);
    } catch (e) {
      if (e instanceof DriverError) throw e;
      throw engineError(h, e);
    }
  }

  publishOn(h: EngineHost): string {
    return h.publish ?? this.publishAddress;
  }

  /** The hosts a service runs on: its placement (multi-host targets), else every host. */
  hostsOf(svc: ResolvedService): EngineHost[] {
    if (!svc.placement?.length) return this.hosts;
    const placed = svc.placement.map((k) => this.hosts.find((h) => h.key === k));
    const missing = svc.placement.filter((_, i) => !placed[i]);
    if (missing.length)
      throw new DriverError(
        "docker",
        `service ${svc.name} is placed on ${missing.join(", ")}, which the target's hosts do not list`,
      );
    return placed as EngineHost[];
  }

  hostFor(svc: ResolvedService, index: number): EngineHost {
    const hosts = this.hostsOf(svc);
    return hosts[index % hosts.length] as EngineHost;
  }

  /** The host an instance was started on (undefined: that host is no longer configured). */
  hostOf(instance: Instance): EngineHost | undefined {
    const key = instance.meta?.host;
    return this.hosts.find((h) => h.key === key);
  }

  /** An instance's host (else the first) and its container handle. */
  containerOf(instance: Instance): { h: EngineHost; c: Docker.Container } {
    const h = this.hostOf(instance) ?? (this.hosts[0] as EngineHost);
    const c = h.docker.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
    return { h, c };
  }
}
