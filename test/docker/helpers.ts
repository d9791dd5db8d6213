/** Helpers for the Docker suites: a ResolvedService with the resolver's defaults, and requests. */
import type { Artifact, InstanceRequest } from "../../src/drivers/driver.js";
import type { ResolvedService } from "../../src/spec/resolved.js";
import { resolvedService } from "../../src/spec/defaults.js";
import { instanceRequest, type RequestOptions } from "../support/instances.js";

export function service(name: string, over: Partial<ResolvedService> = {}): ResolvedService {
  return resolvedService(name, { stop: { signal: "SIGTERM", grace: 5000 }, ...over });
}

export function request(
  project: string,
  svc: ResolvedService,
  artifact: Artifact,
  over: Omit<RequestOptions, "project" | "env"> = {},
): InstanceRequest {
  return instanceRequest(svc, artifact, { project, env: "test", ...over });
}

export const uniqueProject = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}`;
