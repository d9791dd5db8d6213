/**
 * The Docker target: one container per instance on the local engine (socket) or on remote
 * engines over SSH. Containers carry every fact Slipway needs in their labels, so inspect()
 * rebuilds live state from the engines alone and a restarted daemon adopts what is running.
 *
 * This class only routes the Driver contract to the files that do each job: images.ts
 * (prepare), prune.ts, networks.ts, engine-info.ts (docker info, GPUs, host shells),
 * lifecycle.ts (start, stop, one-off, exec), containers.ts (inspect), log-merge.ts, stats.ts.
 */
import type {
  Artifact,
  PrepareOptions,
  Driver,
  DriverCapabilities,
  Instance,
  InstanceRequest,
  InstanceStats,
  LogLine,
  LogOptions,
  PruneOptions,
  StopOptions,
} from "../driver.js";
import { silentLogger } from "../../logger.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import type { DockerHostSpec } from "../../spec/placement.js";
import { containersOf, inspectInstance, nameOf, toInstance } from "./containers.js";
import { containerPort } from "./container-spec.js";
import { shellWords } from "../../util/shell-words.js";
import { EngineInfos, type GpuSupport, type HostShell } from "./engine-info.js";
import { Engines } from "./engines.js";
import { localHost, sshHost, type EngineHost, type SshOptions } from "./hosts.js";
import { prepareImage } from "./images.js";
import { execIn, runOneOff, startContainer, stopInstance, type DriverParts } from "./lifecycle.js";
import { mergedLogs } from "./log-merge.js";
import { LABELS, retiredReason } from "./names.js";
import { Networks } from "./networks.js";
import { pruneService } from "./prune.js";
import { SharedBuilds } from "./shared-builds.js";
import { sourceDigest } from "./source-digest.js";
import { containerStats } from "./stats.js";

export interface DockerDriverOptions {
  /** Local engine socket (default /var/run/docker.sock); ignored when `hosts` is given. */
  socketPath?: string;
  /**
   * Remote engines over SSH: "user@host:port" or { ssh, publish }. Instance i of a service runs on
   * its placement[i % placement.length] (resolve() sets placement), else on hosts[i % hosts.length].
   */
  hosts?: Array<string | DockerHostSpec>;
  /** SLIPWAY_HOME. */
  home: string;
  logger?: Logger;
  ssh?: SshOptions;
  /** Host address published ports bind to on every engine (default 127.0.0.1). */
  publishAddress?: string;
}

export class DockerDriver implements Driver {
  readonly name = "docker";
  readonly capabilities: DriverCapabilities = {
    trafficSplit: true,
    gpus: true,
    exec: true,
    stats: true,
    adopt: true,
  };
  private readonly engines: Engines;
  private readonly parts: DriverParts;
  /** Services of one deploy with the same build share one (shared-builds.ts). */
  private readonly builds = new SharedBuilds();

  constructor(opts: DockerDriverOptions) {
    const logger = opts.logger ?? silentLogger;
    const hosts: EngineHost[] = opts.hosts?.length
      ? opts.hosts.map((h) =>
          typeof h === "string" ? sshHost(h, opts.ssh) : sshHost(h.ssh, opts.ssh, h.publish),
        )
      : [localHost(opts.socketPath)];
    this.engines = new Engines(hosts, logger, opts.publishAddress ?? "127.0.0.1");
    this.parts = {
      engines: this.engines,
      infos: new EngineInfos(this.engines),
      networks: new Networks(this.engines),
    };
    const loopback = /^(127\.|::1$|localhost$)/;
    for (const h of hosts)
      if (h.remote && !loopback.test(h.address) && loopback.test(this.engines.publishOn(h)))
        logger.warn(
          `docker host ${h.key}: ports are published on that host's loopback; set its publish address ` +
            "(hosts: [{ ssh, publish }]) to a private address of the host so the Slipway proxy can reach them",
        );
  }

  /** Engine hosts as configured ("local" or user@host:port). */
  get hostKeys(): string[] {
    return this.engines.hosts.map((h) => h.key);
  }

  /** The build context or the local image id (source-digest.ts). */
  sourceDigest(_project: string, _env: string, service: ResolvedService): Promise<string | undefined> {
    return sourceDigest(this.engines, service);
  }

  prepare(
    project: string,
    env: string,
    service: ResolvedService,
    revision: number,
    opts: PrepareOptions = {},
  ): Promise<Artifact> {
    return prepareImage({ ...this.parts, builds: this.builds }, { project, env, service, revision }, opts);
  }

  prune(
    project: string,
    env: string,
    service: string,
    keep: number[],
    opts: PruneOptions = {},
  ): Promise<void> {
    return pruneService(this.engines, this.parts.networks, { project, env, service }, keep, opts);
  }

  /** The runtimes the engine of a host offers (`docker info` Runtimes). */
  runtimesOf(h: EngineHost): Promise<string[]> {
    return this.parts.infos.runtimesOf(h);
  }

  /**
   * The remote machines of this target, for pre-flight checks that measure a host (resources, gpu):
   * commands run over SSH with the engine connection's settings. [] for the local engine.
   */
  hostShells(): HostShell[] {
    return this.parts.infos.hostShells();
  }

  /** Per host: can it run GPU containers (NVIDIA runtime registered)? Asked afresh each time. */
  gpuSupport(): Promise<GpuSupport[]> {
    return this.parts.infos.gpuSupport();
  }

  start(req: InstanceRequest): Promise<Instance> {
    return startContainer(this.parts, req);
  }

  async inspect(project: string, env: string): Promise<Instance[]> {
    const live = await containersOf(
      this.engines,
      project,
      env,
      (c) =>
        c.Labels[LABELS.oneoff] !== "true" &&
        c.Labels[LABELS.service] !== undefined &&
        // Stopped containers kept for their logs (stop with `retire`) are not instances.
        !retiredReason(nameOf(c)),
    );
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Retired containers of an environment (stopped, kept by `stop({ retire })`), newest first. */
  async retired(project: string, env: string): Promise<Instance[]> {
    const kept = await containersOf(this.engines, project, env, (c) => !!retiredReason(nameOf(c)));
    const finished = (i: Instance) => i.lastExit?.at ?? i.startedAt;
    return kept.sort((a, b) => b.revision - a.revision || finished(b).localeCompare(finished(a)));
  }

  stop(instance: Instance, opts: StopOptions): Promise<{ keptAs?: string } | void> {
    return stopInstance(this.engines, instance, opts);
  }

  runOnce(
    req: InstanceRequest,
    command: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ exitCode: number; output: string }> {
    return runOneOff(this.parts, req, command, opts);
  }

  /** Run a command inside a running instance (exec probes, `slipway exec`). */
  exec(
    instance: Instance,
    command: string | string[],
    opts: { timeoutMs?: number } = {},
  ): Promise<{ exitCode: number; output: string }> {
    return execIn(this.engines, instance, command, opts);
  }

  logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine> {
    return mergedLogs(this.engines, instances, opts);
  }

  async live(instance: Instance): Promise<Instance | undefined> {
    const found = await inspectInstance(this.engines, instance);
    return found ? toInstance(found.info, found.h) : undefined;
  }

  stats(instance: Instance): Promise<InstanceStats | undefined> {
    return containerStats(this.engines, instance);
  }

  async close(): Promise<void> {
    this.parts.networks.clear();
    this.parts.infos.clear();
  }
}

export { containerPort, shellWords, toInstance };
