/**
 * `slipway render`: an environment's Kubernetes manifests from its resolved snapshot — the
 * services' own objects, and charts rendered by the real `helm template` under their own names.
 */
import { UsageError } from "../../errors.js";
import { instanceEnv } from "../../spec/instance-env.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import { hookTypes, isHook } from "./chart-hooks.js";
import { helmTemplate } from "./helm.js";
import { releaseOf } from "./manifests/release.js";
import { registrySecret, type RegistryTarget } from "./registry-auth.js";
import { renderEnvironment } from "./manifests/render.js";

export async function renderManifests(
  snapshot: ResolvedSpec,
  opts: { env: string; service?: string; revision: number },
): Promise<{ manifests: unknown[]; notes: string[] }> {
  const target = snapshot.target;
  if (target.kind !== "kubernetes")
    throw new UsageError(`${opts.env} runs on the ${target.kind} target; render prints Kubernetes manifests`);
  const { service, revision } = opts;
  if (service && !snapshot.services[service])
    throw new UsageError(`no service "${service}" (services: ${Object.keys(snapshot.services).join(", ")})`);
  const chosen = Object.values(snapshot.services).filter((s) => !service || s.name === service);
  const releases = chosen
    .filter((s) => !s.chart)
    .map((s) => releaseOf(snapshot, s, revision, instanceEnv(snapshot, s, revision)));
  const { manifests, notes } = renderEnvironment(releases);
  // The registry pull Secret, with the spec's references in place of credentials.
  const pull = releases.length
    ? registrySecret(snapshot.project, target.namespace, target as RegistryTarget, "references")
    : undefined;
  const all: unknown[] = pull ? [manifests[0], pull, ...manifests.slice(1)] : [...manifests];
  for (const s of chosen.filter((x) => x.chart)) {
    const objects = await helmTemplate({
      release: s.name,
      namespace: target.namespace,
      service: s,
      dir: snapshot.dir,
    });
    all.push(...objects);
    const hooks = objects.filter(isHook);
    if (hooks.length)
      notes.push(
        `${s.name}: helm hooks (run in their phases by deploy, not applied with the rest; Argo CD maps helm.sh/hook itself): ${hooks
          .map((o) => `${o.kind?.toLowerCase()}/${o.metadata?.name} (${hookTypes(o).join(",")})`)
          .join(", ")}`,
      );
  }
  return { manifests: all, notes };
}
