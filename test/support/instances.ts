/** Driver-agnostic builders for driver tests: an InstanceRequest for a service and its artifact. */
import type { Artifact, InstanceRequest, Slot } from "../../src/drivers/driver.js";
import type { ResolvedService } from "../../src/spec/resolved.js";

export interface RequestOptions {
  project: string;
  env: string;
  revision?: number;
  slot?: Slot;
  index?: number;
  env_vars?: Record<string, string>;
  version?: string;
}

export function instanceRequest(
  svc: ResolvedService,
  artifact: Artifact,
  o: RequestOptions,
): InstanceRequest {
  return {
    project: o.project,
    env: o.env,
    service: svc,
    revision: o.revision ?? artifact.revision,
    version: o.version ?? "1.0.0",
    slot: o.slot ?? "stable",
    index: o.index ?? 0,
    env_vars: o.env_vars ?? {},
    artifact,
  };
}
