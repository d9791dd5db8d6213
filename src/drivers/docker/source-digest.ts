/**
 * What a Docker service's artifact is made from, for telling an unchanged service from a changed
 * one. Built: the build context (the files a build sends). Pulled: the id of the local image the
 * tag names on every host it runs on (a re-tagged image is a change).
 */
import type { ResolvedService } from "../../spec/resolved.js";
import { treeDigest } from "../tree-digest.js";
import { contextDir, contextFiles } from "./build-context.js";
import type { Engines } from "./engines.js";

export async function sourceDigest(engines: Engines, svc: ResolvedService): Promise<string | undefined> {
  if (svc.build) {
    const context = contextDir(svc.path, svc.build.context);
    return treeDigest(context, contextFiles(context));
  }
  if (!svc.image) return undefined;
  const image = svc.image;
  const ids = await Promise.all(
    engines.hostsOf(svc).map((h) =>
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
