/**
 * The Docker target: one container per instance on the local engine (socket) or on remote
 * engines over SSH. Containers carry every fact Slipway needs in their labels, so inspect()
 * rebuilds live state from the engines alone and a restarted daemon adopts what is running.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import type { ContainerInspectInfo } from "dockerode";
import type {
  Artifact,
  PrepareOptions,
  Driver,
  DriverCapabilities,
  Instance,
  InstanceRequest,
  InstanceState,
  InstanceStats,
  LogLine,
  LogOptions,
  PruneOptions,
  Slot,
  StopOptions,
} from "../driver.js";
import { DriverError } from "../../errors.js";
import { silentLogger, type Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { treeDigest } from "../tree-digest.js";
import { contextDir, contextFiles } from "./build-context.js";
import {
  containerPort,
  createOptions,
  instanceName,
  parseVolume,
  secretFiles,
  shellWords,
} from "./container-spec.js";
import { secretsTar } from "./secret-files.js";
import { Demuxer, demuxAll } from "./demux.js";
import { engineError, localHost, sshHost, type EngineHost, type SshOptions } from "./hosts.js";
import { LABELS, imageRef, imageRepository, networkName, retiredName, retiredReason } from "./names.js";
import { runOnHost, type HostCommandResult } from "./ssh-command.js";
import type { DockerHostSpec } from "../../spec/placement.js";

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

/** The slice of `docker info` the driver reads. */
interface EngineInfo {
  Runtimes?: Record<string, unknown>;
  DockerRootDir?: string;
}

interface HttpError {
  statusCode?: number;
  message?: string;
}
const status = (e: unknown) => (e as HttpError)?.statusCode;

export class DockerDriver implements Driver {
  readonly name = "docker";
  readonly capabilities: DriverCapabilities = {
    trafficSplit: true,
    gpus: true,
    exec: true,
    stats: true,
    adopt: true,
  };
  private readonly hosts: EngineHost[];
  private readonly logger: Logger;
  private readonly publishAddress: string;
  private readonly networks = new Map<string, Promise<void>>();
  private readonly infos = new Map<string, Promise<EngineInfo>>();

  constructor(opts: DockerDriverOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.publishAddress = opts.publishAddress ?? "127.0.0.1";
    this.hosts = opts.hosts?.length
      ? opts.hosts.map((h) =>
          typeof h === "string" ? sshHost(h, opts.ssh) : sshHost(h.ssh, opts.ssh, h.publish),
        )
      : [localHost(opts.socketPath)];
    const loopback = /^(127\.|::1$|localhost$)/;
    for (const h of this.hosts)
      if (h.remote && !loopback.test(h.address) && loopback.test(this.publishOn(h)))
        this.logger.warn(
          `docker host ${h.key}: ports are published on that host's loopback; set its publish address ` +
            "(hosts: [{ ssh, publish }]) to a private address of the host so the Slipway proxy can reach them",
        );
  }

  /** Engine hosts as configured ("local" or user@host:port). */
  get hostKeys(): string[] {
    return this.hosts.map((h) => h.key);
  }

  private async on<T>(h: EngineHost, fn: (d: Docker) => Promise<T>): Promise<T> {
    try {
      return await fn(h.docker);
    } catch (e) {
      if (e instanceof DriverError) throw e;
      throw engineError(h, e);
    }
  }

  private publishOn(h: EngineHost): string {
    return h.publish ?? this.publishAddress;
  }

  /** The hosts a service runs on: its placement (multi-host targets), else every host. */
  private hostsOf(svc: ResolvedService): EngineHost[] {
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

  private hostFor(svc: ResolvedService, index: number): EngineHost {
    const hosts = this.hostsOf(svc);
    return hosts[index % hosts.length] as EngineHost;
  }

  private hostOf(instance: Instance): EngineHost | undefined {
    const key = instance.meta?.host;
    return this.hosts.find((h) => h.key === key);
  }

  // ---- artifacts -------------------------------------------------------------------------------

  /**
   * Built: the build context (after .dockerignore) and the build settings in the spec. Pulled:
   * the id of the local image the tag names on every host (a re-tagged image is a change).
   */
  async sourceDigest(_project: string, _env: string, svc: ResolvedService): Promise<string | undefined> {
    if (svc.build) {
      const context = contextDir(svc.path, svc.build.context);
      return treeDigest(context, contextFiles(context));
    }
    if (!svc.image) return undefined;
    const image = svc.image;
    const ids = await Promise.all(
      this.hostsOf(svc).map((h) =>
        h.docker
          .getImage(image)
          .inspect()
          .then(
            (i) => `${h.key}=${i.Id}`,
            () => undefined,
          ),
      ),
    );
    return ids.every((x) => x !== undefined) ? ids.join(",") : undefined;
  }

  async prepare(
    project: string,
    env: string,
    service: ResolvedService,
    revision: number,
    opts: PrepareOptions = {},
  ): Promise<Artifact> {
    const ref = imageRef(project, env, service.name, revision);
    // A GPU request on a host without the NVIDIA runtime fails here, in the prepare step, before
    // any instance of the environment changes.
    const hosts = this.hostsOf(service);
    await Promise.all(hosts.map((h) => this.assertGpus(h, service)));
    if (opts.existingOnly) {
      for (const h of hosts) {
        if (!(await this.imageExists(h, ref)))
          throw new DriverError(
            "docker",
            `release r${revision} of ${service.name} (${ref}) is no longer on ${h.key} (pruned); it cannot be restored`,
          );
      }
      return { service: service.name, revision, ref };
    }
    await Promise.all(hosts.map((h) => this.prepareOn(h, project, env, service, revision, ref)));
    return { service: service.name, revision, ref };
  }

  private imageExists(h: EngineHost, name: string): Promise<boolean> {
    return h.docker
      .getImage(name)
      .inspect()
      .then(
        () => true,
        (e: unknown) => {
          if (status(e) === 404) return false;
          throw engineError(h, e);
        },
      );
  }

  private async prepareOn(
    h: EngineHost,
    project: string,
    env: string,
    svc: ResolvedService,
    revision: number,
    ref: string,
  ): Promise<void> {
    const exists = (name: string) => this.imageExists(h, name);
    // The revision's tag already exists: a rollback or a retried deploy needs no build or pull.
    if (await exists(ref)) {
      this.logger.debug(`docker ${h.key}: ${ref} already present`);
      return;
    }
    const [repo, tag] = [imageRepository(project, env, svc.name), `r${revision}`];
    if (svc.build) {
      await this.build(h, project, env, svc, ref);
      return;
    }
    const image = svc.image as string;
    if (!(await exists(image)))
      throw new DriverError("docker", `image ${image} not found on host ${h.key} and no registry access`);
    await this.on(h, (d) => d.getImage(image).tag({ repo, tag }));
  }

  private async build(h: EngineHost, project: string, env: string, svc: ResolvedService, ref: string) {
    const b = svc.build as NonNullable<ResolvedService["build"]>;
    const context = contextDir(svc.path, b.context);
    const src = contextFiles(context);
    this.logger.info(`building ${svc.name} on ${h.key}`, { context, files: src.length });
    const lines: string[] = [];
    await this.on(h, async (d) => {
      const stream = await d.buildImage(
        { context, src },
        {
          t: ref,
          dockerfile: b.dockerfile ?? "Dockerfile",
          buildargs: b.args ?? {},
          ...(b.target ? { target: b.target } : {}),
          labels: { [LABELS.project]: project, [LABELS.env]: env, [LABELS.service]: svc.name },
          rm: true,
          forcerm: true,
        },
      );
      await new Promise<void>((resolve, reject) => {
        let failure: string | undefined;
        d.modem.followProgress(
          stream,
          (err: Error | null) => {
            if (err || failure) reject(new Error(failure ?? err?.message));
            else resolve();
          },
          (ev: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
            if (ev.stream) lines.push(...ev.stream.split("\n").filter((l) => l.trim()));
            if (ev.error) failure = ev.errorDetail?.message ?? ev.error;
          },
        );
      });
    }).catch((e: unknown) => {
      const tail = lines.slice(-15).join("\n");
      throw new DriverError(
        "docker",
        `build of ${svc.name} failed on ${h.key}: ${(e as Error).message.replace(/^docker: /, "")}` +
          (tail ? `\n${tail}` : ""),
      );
    });
    if (svc.image && svc.image !== ref) {
      const i = svc.image.lastIndexOf(":");
      const slash = svc.image.lastIndexOf("/");
      const [repo, tag] = i > slash ? [svc.image.slice(0, i), svc.image.slice(i + 1)] : [svc.image, "latest"];
      await this.on(h, (d) => d.getImage(ref).tag({ repo, tag }));
    }
  }

  async prune(
    project: string,
    env: string,
    service: string,
    keep: number[],
    opts: PruneOptions = {},
  ): Promise<void> {
    const kept = new Set(keep);
    const repo = imageRepository(project, env, service);
    await Promise.all(
      this.hosts.map(async (h) => {
        const containers = await this.on(h, (d) =>
          d.listContainers({
            all: true,
            filters: {
              label: [`${LABELS.project}=${project}`, `${LABELS.env}=${env}`, `${LABELS.service}=${service}`],
            },
          }),
        );
        const revOf = (c: Docker.ContainerInfo) => Number(c.Labels[LABELS.revision]);
        const oneoff = (c: Docker.ContainerInfo) => c.Labels[LABELS.oneoff] === "true";
        const retired = containers.filter((c) => !oneoff(c) && retiredReason(nameOf(c)));
        // Retired containers of the most recent revisions stay, whatever keep says (the current
        // revision's artifact is always kept; a stopped container of it is an earlier attempt).
        const retiredRevs = [...new Set(retired.map(revOf))].sort((a, b) => b - a);
        const keptRetired = new Set(retiredRevs.slice(0, opts.retired ?? 0));
        // Image tags a container that stays was created from are kept, so that rollback needs no pull.
        const inUse = new Set<string>();
        for (const c of containers) {
          const stays = oneoff(c)
            ? false
            : retiredReason(nameOf(c))
              ? keptRetired.has(revOf(c))
              : c.State === "running" || kept.has(revOf(c));
          if (stays) {
            inUse.add(c.Image);
            continue;
          }
          await h.docker
            .getContainer(c.Id)
            .remove({ force: true, v: false })
            .then(() => this.logger.debug(`pruned container ${nameOf(c)} on ${h.key}`))
            .catch((e: unknown) => this.logger.debug(`prune: cannot remove container ${c.Id}: ${String(e)}`));
        }
        const images = await this.on(h, (d) => d.listImages({ filters: { reference: [repo] } }));
        for (const img of images)
          for (const t of img.RepoTags ?? []) {
            const m = /:r(\d+)$/.exec(t);
            if (!t.startsWith(`${repo}:`) || !m || kept.has(Number(m[1])) || inUse.has(t)) continue;
            // Removing a tag deletes the image only when nothing else (a user's tag, a container) uses it.
            await h.docker
              .getImage(t)
              .remove({})
              .then(() => this.logger.info(`pruned ${t} on ${h.key}`))
              .catch((e: unknown) =>
                this.logger.debug(`prune: ${t} kept on ${h.key}: ${(e as Error).message}`),
              );
          }
        // Nothing kept and no container of the environment left (destroy): the network goes too.
        if (!keep.length) await this.removeNetworkIfUnused(h, project, env);
      }),
    );
  }

  private async removeNetworkIfUnused(h: EngineHost, project: string, env: string): Promise<void> {
    const left = await this.on(h, (d) =>
      d.listContainers({
        all: true,
        filters: { label: [`${LABELS.project}=${project}`, `${LABELS.env}=${env}`] },
      }),
    );
    if (left.length) return;
    const name = networkName(project, env);
    this.networks.delete(`${h.key}\u0000${name}`);
    await h.docker
      .getNetwork(name)
      .remove()
      .catch((e: unknown) => this.logger.debug(`network ${name} kept on ${h.key}: ${(e as Error).message}`));
  }

  // ---- instances -------------------------------------------------------------------------------

  private ensureNetwork(h: EngineHost, project: string, env: string): Promise<void> {
    const name = networkName(project, env);
    const key = `${h.key}\u0000${name}`;
    let p = this.networks.get(key);
    if (!p) {
      p = this.on(h, async (d) => {
        const nets = await d.listNetworks({ filters: { name: [name] } });
        if (nets.some((n) => n.Name === name)) return;
        await d
          .createNetwork({
            Name: name,
            Driver: "bridge",
            CheckDuplicate: true,
            Labels: { [LABELS.project]: project, [LABELS.env]: env },
          })
          .catch((e: unknown) => {
            if (status(e) !== 409) throw e;
          });
      });
      p.catch(() => this.networks.delete(key));
      this.networks.set(key, p);
    }
    return p;
  }

  /** What `docker info` says of a host's engine, asked once (a failure is asked again next time). */
  private infoOf(h: EngineHost): Promise<EngineInfo> {
    let p = this.infos.get(h.key);
    if (!p) {
      p = this.on(h, async (d) => (await d.info()) as EngineInfo);
      p.catch(() => this.infos.delete(h.key));
      this.infos.set(h.key, p);
    }
    return p;
  }

  /** The runtimes the engine of a host offers (`docker info` Runtimes). */
  async runtimesOf(h: EngineHost): Promise<string[]> {
    return Object.keys((await this.infoOf(h)).Runtimes ?? {});
  }

  /**
   * The remote machines of this target, for pre-flight checks that measure a host (resources, gpu):
   * commands run over SSH with the engine connection's settings. [] for the local engine.
   */
  hostShells(): Array<{
    name: string;
    run: (command: string, o: { signal: AbortSignal; timeoutMs: number }) => Promise<HostCommandResult>;
    dockerRootDir: () => Promise<string | undefined>;
  }> {
    return this.hosts
      .filter((h) => h.remote)
      .map((h) => ({
        name: h.key,
        run: (command, o) => runOnHost(h, command, o),
        dockerRootDir: async () => (await this.infoOf(h)).DockerRootDir,
      }));
  }

  /**
   * Per host: can it run GPU containers (NVIDIA runtime registered)? For pre-flight checks, so asked
   * afresh (a daemon outlives the installation of the NVIDIA toolkit); a host that does not answer
   * says why without hiding the others.
   */
  async gpuSupport(): Promise<Array<{ host: string; nvidia: boolean; runtimes: string[]; error?: string }>> {
    return Promise.all(
      this.hosts.map(async (h) => {
        this.infos.delete(h.key);
        try {
          const runtimes = await this.runtimesOf(h);
          return { host: h.key, nvidia: runtimes.includes("nvidia"), runtimes };
        } catch (e) {
          // The caller names the host already.
          const error = (e as Error).message.replace(`docker: host ${h.key}: `, "");
          return { host: h.key, nvidia: false, runtimes: [], error };
        }
      }),
    );
  }

  private async assertGpus(h: EngineHost, svc: ResolvedService): Promise<void> {
    if (!svc.resources?.gpus) return;
    const runtimes = await this.runtimesOf(h);
    if (!runtimes.includes("nvidia"))
      throw new DriverError(
        "docker",
        `service ${svc.name} requests GPUs but host ${h.key} has no NVIDIA runtime ` +
          `(docker info runtimes: ${runtimes.join(", ") || "none"}); install the NVIDIA Container Toolkit ` +
          "and restart dockerd, or remove resources.gpus",
      );
  }

  private async ensureVolumes(h: EngineHost, req: InstanceRequest): Promise<void> {
    for (const v of req.service.volumes) {
      let p;
      try {
        p = parseVolume(v, req.service.path, req.project, req.env);
      } catch (e) {
        throw new DriverError("docker", `services.${req.service.name}.volumes: ${(e as Error).message}`);
      }
      if (p.kind !== "named") continue;
      const name = p.source;
      await this.on(h, (d) =>
        d.createVolume({ Name: name, Labels: { [LABELS.project]: req.project, [LABELS.env]: req.env } }),
      );
    }
  }

  async start(req: InstanceRequest): Promise<Instance> {
    const h = this.hostFor(req.service, req.index);
    await this.assertGpus(h, req.service);
    await this.ensureNetwork(h, req.project, req.env);
    await this.ensureVolumes(h, req);
    let opts;
    try {
      opts = createOptions(req, {
        network: networkName(req.project, req.env),
        publishAddress: this.publishOn(h),
      });
      // Where it runs, for inspect() and for people (docker ps --filter label=slipway.host=…).
      opts.Labels = { ...opts.Labels, [LABELS.host]: h.key };
    } catch (e) {
      throw new DriverError("docker", `${req.service.name}: ${(e as Error).message}`);
    }
    const name = instanceName(req);
    // A container with this name is a leftover of an interrupted attempt at the same instance.
    await h.docker
      .getContainer(name)
      .remove({ force: true, v: false })
      .then(() => this.logger.warn(`removed leftover container ${name} on ${h.key}`))
      .catch(() => undefined);
    this.logger.info(`starting ${name} on ${h.key}`, { image: req.artifact.ref });
    const info = await this.on(h, async (d) => {
      const c = await d.createContainer(opts);
      try {
        await this.putSecrets(c, req);
        await c.start();
      } catch (e) {
        await c.remove({ force: true }).catch(() => undefined);
        throw e;
      }
      return c.inspect();
    }).catch((e: unknown) => {
      throw e instanceof DriverError && /No such image/i.test(e.message)
        ? new DriverError("docker", `image ${req.artifact.ref} not found on host ${h.key}; run prepare first`)
        : e;
    });
    const inst = toInstance(info, h);
    if (!inst) throw new DriverError("docker", `container ${name} on ${h.key} lacks Slipway labels`);
    return inst;
  }

  async inspect(project: string, env: string): Promise<Instance[]> {
    const live = await this.containersOf(
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
    const kept = await this.containersOf(project, env, (c) => !!retiredReason(nameOf(c)));
    const finished = (i: Instance) => i.lastExit?.at ?? i.startedAt;
    return kept.sort((a, b) => b.revision - a.revision || finished(b).localeCompare(finished(a)));
  }

  /**
   * The environment's containers on every host that pass `keep`, inspected. A container started
   * through another host entry that reaches the same engine is that entry's, not this one's.
   */
  private async containersOf(
    project: string,
    env: string,
    keep: (c: Docker.ContainerInfo) => boolean,
  ): Promise<Instance[]> {
    const all = await Promise.all(
      this.hosts.map(async (h) => {
        const list = await this.on(h, (d) =>
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

  async stop(instance: Instance, opts: StopOptions): Promise<{ keptAs?: string } | void> {
    const candidates = this.hostOf(instance) ? [this.hostOf(instance) as EngineHost] : this.hosts;
    for (const h of candidates) {
      const c = h.docker.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
      const r = await this.stopContainer(h, c, opts).then(
        (keptAs) => ({ gone: false, keptAs }),
        (e: unknown) => {
          if (status(e) === 404) return { gone: true, keptAs: undefined };
          throw engineError(h, e);
        },
      );
      if (!r.gone) {
        this.logger.info(`stopped ${instance.id} on ${h.key}${r.keptAs ? `, kept as ${r.keptAs}` : ""}`);
        return r.keptAs ? { keptAs: r.keptAs } : undefined;
      }
    }
  }

  /** Stop a container; remove it, or with `retire` rename it and return the new name. */
  private async stopContainer(
    h: EngineHost,
    c: Docker.Container,
    opts: StopOptions,
  ): Promise<string | undefined> {
    // Stop the engine from restarting what Slipway is stopping.
    await c.update({ RestartPolicy: { Name: "no" } }).catch((e: unknown) => {
      if (status(e) === 404) throw e;
    });
    const info = await c.inspect();
    if (info.State.Running) {
      await c.kill({ signal: opts.signal }).catch((e: unknown) => {
        if (status(e) !== 409) throw e;
      });
      const exited = await Promise.race([
        c.wait({ condition: "not-running" }).then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), opts.graceMs).unref()),
      ]);
      if (!exited) {
        this.logger.warn(`${info.Name.slice(1)} on ${h.key} did not exit within ${opts.graceMs} ms: SIGKILL`);
        await c.kill({ signal: "SIGKILL" }).catch(() => undefined);
      }
    }
    if (opts.retire) {
      const name = retiredName(info.Name.slice(1), opts.retire);
      const renamed = await c.rename({ name }).then(
        () => true,
        (e: unknown) => {
          if (status(e) === 404) throw e;
          // Under its old name it would pass for a live instance that exited: remove it instead.
          this.logger.warn(
            `cannot keep ${info.Name.slice(1)} on ${h.key} (${(e as Error).message}); removing it`,
          );
          return false;
        },
      );
      if (renamed) return name;
    }
    // Named volumes are kept (v: false); only the container goes.
    await c.remove({ force: true, v: false });
    return undefined;
  }

  async runOnce(
    req: InstanceRequest,
    command: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ exitCode: number; output: string }> {
    // Where the service runs (a stateful service's host has its volumes).
    const h = this.hostsOf(req.service)[0] as EngineHost;
    await this.ensureNetwork(h, req.project, req.env);
    await this.ensureVolumes(h, req);
    const base = createOptions(
      { ...req, service: { ...req.service, health: undefined } },
      { network: networkName(req.project, req.env), publishAddress: this.publishOn(h) },
    );
    const name = `${base.name}-run-${randomBytes(3).toString("hex")}`;
    const hostConfig = { ...base.HostConfig, RestartPolicy: { Name: "no" } };
    delete hostConfig.PortBindings;
    this.logger.info(`running a one-off container of ${req.service.name} on ${h.key}`);
    return this.on(h, async (d) => {
      const c = await d.createContainer({
        ...base,
        name,
        Cmd: ["sh", "-c", command],
        Labels: { ...base.Labels, [LABELS.oneoff]: "true" },
        HostConfig: hostConfig,
        NetworkingConfig: { EndpointsConfig: { [networkName(req.project, req.env)]: {} } },
      });
      try {
        await this.putSecrets(c, req);
        await c.start();
        let timedOut = false;
        const kill = () => c.kill({ signal: "SIGKILL" }).catch(() => undefined);
        const timer = setTimeout(() => {
          timedOut = true;
          void kill();
        }, opts.timeoutMs);
        opts.signal?.addEventListener("abort", kill, { once: true });
        const r = (await c.wait()) as { StatusCode: number };
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", kill);
        const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
        let output = demuxAll(buf);
        if (timedOut) output += `\n(killed after ${opts.timeoutMs} ms)`;
        return { exitCode: timedOut ? 124 : r.StatusCode, output };
      } finally {
        await c.remove({ force: true, v: false }).catch(() => undefined);
      }
    });
  }

  /** `secrets.as: files`: the values go into the created container's filesystem before it starts. */
  private async putSecrets(c: Docker.Container, req: InstanceRequest): Promise<void> {
    const files = secretFiles(req);
    if (!Object.keys(files).length) return;
    const s = req.service.secrets;
    await c.putArchive(secretsTar(files, { uid: s?.uid, gid: s?.gid }), { path: "/" });
  }

  /** Run a command inside a running instance (exec probes, `slipway exec`). */
  async exec(
    instance: Instance,
    command: string | string[],
    opts: { timeoutMs?: number } = {},
  ): Promise<{ exitCode: number; output: string }> {
    const h = this.hostOf(instance) ?? (this.hosts[0] as EngineHost);
    const cmd = Array.isArray(command) ? command : ["sh", "-c", command];
    return this.on(h, async (d) => {
      const c = d.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
      const ex = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await ex.start({ hijack: true, stdin: false });
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          stream.destroy();
          reject(new Error(`exec timed out after ${opts.timeoutMs} ms`));
        }, opts.timeoutMs ?? 60_000);
        stream.on("data", (b: Buffer) => chunks.push(b));
        stream.on("end", () => (clearTimeout(timer), resolve()));
        stream.on("error", (e) => (clearTimeout(timer), reject(e)));
      });
      const r = await ex.inspect();
      return { exitCode: r.ExitCode ?? -1, output: demuxAll(Buffer.concat(chunks)) };
    });
  }

  async *logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine> {
    const queue: LogLine[] = [];
    let wake: (() => void) | undefined;
    let open = instances.length;
    let failure: unknown;
    const streams: NodeJS.ReadableStream[] = [];
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const base = {
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      ...(opts.sinceMs !== undefined ? { since: Math.floor((Date.now() - opts.sinceMs) / 1000) } : {}),
    };
    const push = (inst: Instance, lines: Array<{ stream: "stdout" | "stderr"; line: string }>) => {
      for (const l of lines) {
        const m = /^(\d{4}-\d\d-\d\dT\S+Z) (.*)$/s.exec(l.line);
        queue.push({
          instance: inst.id,
          stream: l.stream,
          time: m?.[1],
          line: m ? (m[2] as string) : l.line,
        });
      }
      notify();
    };
    const done = () => {
      open--;
      notify();
    };
    const abort = () => {
      for (const s of streams) (s as NodeJS.ReadableStream & { destroy(): void }).destroy();
      open = 0;
      notify();
    };
    opts.signal?.addEventListener("abort", abort, { once: true });
    for (const inst of instances) {
      const h = this.hostOf(inst) ?? (this.hosts[0] as EngineHost);
      const c = h.docker.getContainer((inst.meta?.containerId as string | undefined) ?? inst.id);
      const d = new Demuxer();
      if (opts.follow) {
        c.logs({ ...base, follow: true })
          .then((s) => {
            streams.push(s);
            let ended = false;
            const end = () => {
              if (ended) return;
              ended = true;
              push(inst, d.flush());
              done();
            };
            if (opts.signal?.aborted) (s as NodeJS.ReadableStream & { destroy(): void }).destroy();
            s.on("data", (b: Buffer) => push(inst, d.push(b)));
            s.on("end", end);
            s.on("close", end);
            s.on("error", end);
          })
          .catch((e: unknown) => {
            if (status(e) !== 404) failure = engineError(h, e);
            done();
          });
      } else {
        try {
          const buf = (await c.logs({ ...base, follow: false })) as Buffer;
          push(inst, [...d.push(buf), ...d.flush()]);
        } catch (e) {
          if (status(e) !== 404) failure = engineError(h, e);
        }
        done();
      }
    }
    try {
      for (;;) {
        while (queue.length) yield queue.shift() as LogLine;
        if (failure) throw failure;
        if (open <= 0 || opts.signal?.aborted) return;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      opts.signal?.removeEventListener("abort", abort);
      for (const s of streams) (s as NodeJS.ReadableStream & { destroy(): void }).destroy();
    }
  }

  async live(instance: Instance): Promise<Instance | undefined> {
    const h = this.hostOf(instance) ?? (this.hosts[0] as EngineHost);
    const c = h.docker.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
    try {
      return toInstance(await c.inspect(), h);
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw engineError(h, e);
    }
  }

  async stats(instance: Instance): Promise<InstanceStats | undefined> {
    const h = this.hostOf(instance) ?? (this.hosts[0] as EngineHost);
    const c = h.docker.getContainer((instance.meta?.containerId as string | undefined) ?? instance.id);
    let info: ContainerInspectInfo;
    try {
      info = await c.inspect();
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw engineError(h, e);
    }
    if (!info.State.Running) return undefined;
    const s = await this.on(h, () => c.stats({ stream: false }));
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

  async close(): Promise<void> {
    this.networks.clear();
    this.infos.clear();
  }
}

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
function nameOf(c: Docker.ContainerInfo): string {
  return (c.Names[0] ?? "").replace(/^\//, "");
}

/** The last line of Docker's last health check output (why it says unhealthy). */
function lastHealthOutput(info: ContainerInspectInfo): string {
  const log = info.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  const line = (last?.Output ?? "").trim().split("\n").slice(-1)[0] ?? "";
  return `${last ? `exit ${last.ExitCode}` : "no check logged"}${line ? `: ${line.slice(0, 200)}` : ""}`;
}

export { containerPort, shellWords };
