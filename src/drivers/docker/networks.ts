/**
 * What an environment's containers share on each engine: its bridge network (created once per
 * host, removed with the last container) and its named volumes.
 */
import type { InstanceRequest } from "../driver.js";
import { DriverError } from "../../errors.js";
import { parseVolume } from "./container-spec.js";
import { status, type Engines } from "./engines.js";
import type { EngineHost } from "./hosts.js";
import { LABELS, networkName } from "./names.js";

export class Networks {
  private readonly created = new Map<string, Promise<void>>();

  constructor(private readonly engines: Engines) {}

  ensure(h: EngineHost, project: string, env: string): Promise<void> {
    const name = networkName(project, env);
    const key = `${h.key}\u0000${name}`;
    let p = this.created.get(key);
    if (!p) {
      p = this.engines.on(h, async (d) => {
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
      p.catch(() => this.created.delete(key));
      this.created.set(key, p);
    }
    return p;
  }

  /** Remove the environment's network once no container of the environment is left on the host. */
  async removeIfUnused(h: EngineHost, project: string, env: string): Promise<void> {
    const left = await this.engines.on(h, (d) =>
      d.listContainers({
        all: true,
        filters: { label: [`${LABELS.project}=${project}`, `${LABELS.env}=${env}`] },
      }),
    );
    if (left.length) return;
    const name = networkName(project, env);
    this.created.delete(`${h.key}\u0000${name}`);
    await h.docker
      .getNetwork(name)
      .remove()
      .catch((e: unknown) =>
        this.engines.logger.debug(`network ${name} kept on ${h.key}: ${(e as Error).message}`),
      );
  }

  /** Create the named volumes of a service (bind mounts need nothing). */
  async ensureVolumes(h: EngineHost, req: InstanceRequest): Promise<void> {
    for (const v of req.service.volumes) {
      let p;
      try {
        p = parseVolume(v, req.service.path, req.project, req.env);
      } catch (e) {
        throw new DriverError("docker", `services.${req.service.name}.volumes: ${(e as Error).message}`);
      }
      if (p.kind !== "named") continue;
      const name = p.source;
      await this.engines.on(h, (d) =>
        d.createVolume({ Name: name, Labels: { [LABELS.project]: req.project, [LABELS.env]: req.env } }),
      );
    }
  }

  clear(): void {
    this.created.clear();
  }
}
