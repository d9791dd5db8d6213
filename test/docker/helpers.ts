/** Helpers for the Docker suites: a ResolvedService with the resolver's defaults, and requests. */
import type { Artifact, InstanceRequest, Slot } from "../../src/drivers/driver.js";
import type { ResolvedService } from "../../src/spec/resolved.js";
import { resolvedService } from "../../src/spec/defaults.js";

export function service(name: string, over: Partial<ResolvedService> = {}): ResolvedService {
  return resolvedService(name, { stop: { signal: "SIGTERM", grace: 5000 }, ...over });
}

export function request(
  project: string,
  svc: ResolvedService,
  artifact: Artifact,
  over: {
    revision?: number;
    slot?: Slot;
    index?: number;
    env_vars?: Record<string, string>;
    version?: string;
  } = {},
): InstanceRequest {
  return {
    project,
    env: "test",
    service: svc,
    revision: over.revision ?? artifact.revision,
    version: over.version ?? "1.0.0",
    slot: over.slot ?? "stable",
    index: over.index ?? 0,
    env_vars: over.env_vars ?? {},
    artifact,
  };
}

export const uniqueProject = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}`;
