/**
 * Images: a revision's artifact is a tag `slipway/<project>-<env>-<service>:r<revision>` on every
 * host the service runs on, built there from the service's context or tagged from its image.
 * Services of one deploy with the same build share one (shared-builds.ts).
 */
import type { Artifact, PrepareOptions } from "../driver.js";
import { DriverError } from "../../errors.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { contextDir, contextFiles } from "./build-context.js";
import type { EngineInfos } from "./engine-info.js";
import { status, type Engines } from "./engines.js";
import { engineError, type EngineHost } from "./hosts.js";
import { LABELS, imageRef, imageRepository } from "./names.js";
import { buildKey, SharedBuildFailed, type SharedBuilds } from "./shared-builds.js";

type At = { project: string; env: string; service: ResolvedService; revision: number };

export async function prepareImage(
  parts: { engines: Engines; infos: EngineInfos; builds: SharedBuilds },
  at: At,
  opts: PrepareOptions,
): Promise<Artifact> {
  const { engines, infos } = parts;
  const { project, env, service, revision } = at;
  const ref = imageRef(project, env, service.name, revision);
  // A GPU request on a host without the NVIDIA runtime fails here, in the prepare step, before
  // any instance of the environment changes.
  const hosts = engines.hostsOf(service);
  await Promise.all(hosts.map((h) => infos.assertGpus(h, service)));
  if (opts.existingOnly) {
    for (const h of hosts) {
      if (!(await imageExists(h, ref)))
        throw new DriverError(
          "docker",
          `release r${revision} of ${service.name} (${ref}) is no longer on ${h.key} (pruned); it cannot be restored`,
        );
    }
    return { service: service.name, revision, ref };
  }
  await Promise.all(hosts.map((h) => prepareOn(engines, parts.builds, h, at, ref)));
  return { service: service.name, revision, ref };
}

function imageExists(h: EngineHost, name: string): Promise<boolean> {
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

async function prepareOn(
  engines: Engines,
  builds: SharedBuilds,
  h: EngineHost,
  at: At,
  ref: string,
): Promise<void> {
  const svc = at.service;
  // The revision's tag already exists: a rollback or a retried deploy needs no build or pull.
  if (await imageExists(h, ref)) {
    engines.logger.debug(`docker ${h.key}: ${ref} already present`);
    return;
  }
  const [repo, tag] = [imageRepository(at.project, at.env, svc.name), `r${at.revision}`];
  if (svc.build) {
    await buildShared(engines, builds, h, at, ref);
    await tagAsImage(engines, h, svc, ref);
    return;
  }
  const image = svc.image as string;
  if (!(await imageExists(h, image)))
    throw new DriverError("docker", `image ${image} not found on host ${h.key} and no registry access`);
  await engines.on(h, (d) => d.getImage(image).tag({ repo, tag }));
}

/** Build `ref`, or tag it from the same build another service of this deploy made on `h`. */
async function buildShared(
  engines: Engines,
  builds: SharedBuilds,
  h: EngineHost,
  at: At,
  ref: string,
): Promise<void> {
  const svc = at.service;
  const b = svc.build as NonNullable<ResolvedService["build"]>;
  const key = buildKey(contextDir(svc.path, b.context), b);
  const by = await builds
    .share({ host: h.key, ...at }, key, { service: svc.name, ref }, () => build(engines, h, at, ref))
    .catch((e: unknown) => {
      if (!(e instanceof SharedBuildFailed)) throw e;
      throw new DriverError("docker", `build of ${svc.name} on ${h.key} is ${e.message}`);
    });
  if (!by) return;
  const [repo, tag] = [imageRepository(at.project, at.env, svc.name), `r${at.revision}`];
  engines.logger.info(`${svc.name} on ${h.key}: the same build as ${by.service}, its image ${by.ref} reused`);
  await engines.on(h, (d) => d.getImage(by.ref).tag({ repo, tag }));
}

/** The user's own name for the built image (`image:` beside `build:`), on `h`. */
async function tagAsImage(engines: Engines, h: EngineHost, svc: ResolvedService, ref: string): Promise<void> {
  if (!svc.image || svc.image === ref) return;
  const i = svc.image.lastIndexOf(":");
  const slash = svc.image.lastIndexOf("/");
  const [repo, tag] = i > slash ? [svc.image.slice(0, i), svc.image.slice(i + 1)] : [svc.image, "latest"];
  await engines.on(h, (d) => d.getImage(ref).tag({ repo, tag }));
}

async function build(engines: Engines, h: EngineHost, at: At, ref: string): Promise<void> {
  const svc = at.service;
  const b = svc.build as NonNullable<ResolvedService["build"]>;
  const context = contextDir(svc.path, b.context);
  const src = contextFiles(context);
  engines.logger.info(`building ${svc.name} on ${h.key}`, { context, files: src.length });
  const lines: string[] = [];
  await engines
    .on(h, async (d) => {
      const stream = await d.buildImage(
        { context, src },
        {
          t: ref,
          dockerfile: b.dockerfile ?? "Dockerfile",
          buildargs: b.args ?? {},
          ...(b.target ? { target: b.target } : {}),
          labels: { [LABELS.project]: at.project, [LABELS.env]: at.env, [LABELS.service]: svc.name },
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
    })
    .catch((e: unknown) => {
      const tail = lines.slice(-15).join("\n");
      throw new DriverError(
        "docker",
        `build of ${svc.name} failed on ${h.key}: ${(e as Error).message.replace(/^docker: /, "")}` +
          (tail ? `\n${tail}` : ""),
      );
    });
}
