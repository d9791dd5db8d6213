/**
 * Pruning one service of an environment on every host: containers of revisions not kept (retired
 * ones beyond `opts.retired` revisions), then the revision tags nothing uses any more, and the
 * environment's network once nothing of it is left.
 */
import type Docker from "dockerode";
import type { PruneOptions } from "../driver.js";
import type { Engines } from "./engines.js";
import type { EngineHost } from "./hosts.js";
import { LABELS, imageRepository, retiredReason } from "./names.js";
import type { Networks } from "./networks.js";
import { nameOf } from "./containers.js";

export async function pruneService(
  engines: Engines,
  networks: Networks,
  at: { project: string; env: string; service: string },
  keep: number[],
  opts: PruneOptions,
): Promise<void> {
  await Promise.all(
    engines.hosts.map(async (h) => {
      const inUse = await pruneContainers(engines, h, at, new Set(keep), opts);
      await pruneImages(engines, h, imageRepository(at.project, at.env, at.service), new Set(keep), inUse);
      // Nothing kept and no container of the environment left (destroy): the network goes too.
      if (!keep.length) await networks.removeIfUnused(h, at.project, at.env);
    }),
  );
}

/** Removes the containers that do not stay; returns the image tags of those that do. */
async function pruneContainers(
  engines: Engines,
  h: EngineHost,
  at: { project: string; env: string; service: string },
  kept: Set<number>,
  opts: PruneOptions,
): Promise<Set<string>> {
  const containers = await engines.on(h, (d) =>
    d.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.project}=${at.project}`,
          `${LABELS.env}=${at.env}`,
          `${LABELS.service}=${at.service}`,
        ],
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
      .then(() => engines.logger.debug(`pruned container ${nameOf(c)} on ${h.key}`))
      .catch((e: unknown) => engines.logger.debug(`prune: cannot remove container ${c.Id}: ${String(e)}`));
  }
  return inUse;
}

async function pruneImages(
  engines: Engines,
  h: EngineHost,
  repo: string,
  kept: Set<number>,
  inUse: Set<string>,
): Promise<void> {
  const images = await engines.on(h, (d) => d.listImages({ filters: { reference: [repo] } }));
  for (const img of images)
    for (const t of img.RepoTags ?? []) {
      const m = /:r(\d+)$/.exec(t);
      if (!t.startsWith(`${repo}:`) || !m || kept.has(Number(m[1])) || inUse.has(t)) continue;
      // Removing a tag deletes the image only when nothing else (a user's tag, a container) uses it.
      await h.docker
        .getImage(t)
        .remove({})
        .then(() => engines.logger.info(`pruned ${t} on ${h.key}`))
        .catch((e: unknown) => engines.logger.debug(`prune: ${t} kept on ${h.key}: ${(e as Error).message}`));
    }
}
