/**
 * What each engine says of itself (`docker info`): its runtimes (GPU support) and its root
 * directory, asked once per host and cached; plus the host shells pre-flight checks measure with.
 */
import type { ResolvedService } from "../../spec/resolved.js";
import { DriverError } from "../../errors.js";
import type { Engines } from "./engines.js";
import type { EngineHost } from "./hosts.js";
import { runOnHost, type HostCommandResult } from "./ssh-command.js";

/** The slice of `docker info` the driver reads. */
interface EngineInfo {
  Runtimes?: Record<string, unknown>;
  DockerRootDir?: string;
}

export interface HostShell {
  name: string;
  run: (command: string, o: { signal: AbortSignal; timeoutMs: number }) => Promise<HostCommandResult>;
  dockerRootDir: () => Promise<string | undefined>;
}

export interface GpuSupport {
  host: string;
  nvidia: boolean;
  runtimes: string[];
  error?: string;
}

export class EngineInfos {
  private readonly infos = new Map<string, Promise<EngineInfo>>();

  constructor(private readonly engines: Engines) {}

  /** What `docker info` says of a host's engine, asked once (a failure is asked again next time). */
  private infoOf(h: EngineHost): Promise<EngineInfo> {
    let p = this.infos.get(h.key);
    if (!p) {
      p = this.engines.on(h, async (d) => (await d.info()) as EngineInfo);
      p.catch(() => this.infos.delete(h.key));
      this.infos.set(h.key, p);
    }
    return p;
  }

  /** The runtimes the engine of a host offers (`docker info` Runtimes). */
  async runtimesOf(h: EngineHost): Promise<string[]> {
    return Object.keys((await this.infoOf(h)).Runtimes ?? {});
  }

  /** The remote machines of the target; commands run over SSH with the engine connection's settings. */
  hostShells(): HostShell[] {
    return this.engines.hosts
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
  async gpuSupport(): Promise<GpuSupport[]> {
    return Promise.all(
      this.engines.hosts.map(async (h) => {
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

  async assertGpus(h: EngineHost, svc: ResolvedService): Promise<void> {
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

  clear(): void {
    this.infos.clear();
  }
}
