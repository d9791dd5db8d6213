/** Helpers for the Docker suites: a ResolvedService with the resolver's defaults, and requests. */
import type { Artifact, InstanceRequest, Slot } from "../../src/drivers/driver.js";
import type { ResolvedService } from "../../src/spec/resolved.js";

export function service(name: string, over: Partial<ResolvedService> = {}): ResolvedService {
  return {
    name,
    path: process.cwd(),
    replicas: 1,
    env: {},
    smoke: [],
    dependsOn: [],
    stop: { signal: "SIGTERM", grace: 5000 },
    restart: {
      policy: "on-failure",
      backoff: 500,
      maxBackoff: 30_000,
      crashLoop: { restarts: 5, within: 60_000, rollbackAfter: 300_000 },
    },
    stateful: false,
    rollout: { strategy: "blue-green", steps: [], sticky: false, drainTimeout: 30_000, keepWarm: 300_000 },
    volumes: [],
    retain: 3,
    logs: { maxSize: 10 * 1024 * 1024, maxFiles: 5 },
    labels: {},
    ...over,
  };
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
