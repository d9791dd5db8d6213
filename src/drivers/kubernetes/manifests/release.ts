/** What every manifest of one service revision is rendered from. */
import type { ResolvedService } from "../../../spec/resolved.js";
import { pullSecretsOf, type RegistryTarget } from "../registry-auth.js";
import { labelsFor, type Owner } from "./names.js";

export interface ServiceRelease {
  project: string;
  env: string;
  namespace: string;
  version: string;
  revision: number;
  service: ResolvedService;
  /** The image to run (the tag as given, or pinned to a digest when the registry told it). */
  image: string;
  /**
   * The container environment (the service's env and SLIPWAY_*; PORT is added here). The values of
   * `service.secretEnv` keys go into the revision's Secret, never inline: real values when the
   * driver applies, `${REF}` references when `slipway render` prints.
   */
  vars: Record<string, string>;
  /** The Secrets its pods pull the image with (the target's registry Secret, `imagePullSecrets`). */
  pullSecrets?: string[];
}

export const ownerOf = (r: ServiceRelease): Owner => ({
  project: r.project,
  env: r.env,
  service: r.service.name,
});

export const releaseLabels = (r: ServiceRelease) =>
  labelsFor(ownerOf(r), { revision: r.revision, version: r.version });

/** The port the container listens on (also its $PORT): containerPort, else the public port. */
export const containerPortOf = (svc: ResolvedService): number | undefined => svc.containerPort ?? svc.port;

/** The keys whose values are secret (env files and ${VAR} references): they live in a Secret. */
export const secretKeysOf = (r: ServiceRelease): string[] =>
  (r.service.secretEnv ?? []).filter((k) => k in r.vars);

/** A service's release in a resolved spec (the target must be kubernetes for the namespace). */
export function releaseOf(
  spec: {
    project: string;
    env: string;
    version: string;
    target: { kind: string; namespace?: string } & RegistryTarget;
  },
  service: ResolvedService,
  revision: number,
  vars: Record<string, string>,
): ServiceRelease {
  return {
    project: spec.project,
    env: spec.env,
    namespace: spec.target.namespace ?? "default",
    version: spec.version,
    revision,
    service,
    image: service.image ?? `${service.name}:${spec.version}`,
    vars,
    ...(() => {
      const pullSecrets = pullSecretsOf(spec.project, spec.target, service);
      return pullSecrets.length ? { pullSecrets } : {};
    })(),
  };
}
