/**
 * The defaults of a resolved service, in one place: resolve() applies them, and tests and
 * benchmarks that build a ResolvedService by hand start from them.
 */
import type { ResolvedService } from "./resolved.js";

export function serviceDefaults(name: string, path: string): ResolvedService {
  return {
    name,
    path,
    replicas: 1,
    env: {},
    smoke: [],
    dependsOn: [],
    stop: { signal: "SIGTERM", grace: 10_000 },
    restart: {
      policy: "on-failure",
      backoff: 500,
      maxBackoff: 30_000,
      crashLoop: { restarts: 5, within: 60_000, rollbackAfter: 300_000 },
    },
    stateful: false,
    rollout: {
      strategy: "blue-green",
      steps: [],
      sticky: false,
      drainTimeout: 30_000,
      responseTimeout: 60_000,
      keepWarm: 300_000,
    },
    volumes: [],
    retain: 3,
    logs: { maxSize: 10 * 1024 * 1024, maxFiles: 5 },
    labels: {},
  };
}

/** A ResolvedService for tests and benchmarks: the defaults with some fields replaced. */
export function resolvedService(name: string, over: Partial<ResolvedService> = {}): ResolvedService {
  return { ...serviceDefaults(name, over.path ?? process.cwd()), ...over };
}

/**
 * Does the service's public port go through the proxy? Only services with a port; by default
 * all but stateful ones (a database speaks its own protocol, the proxy only HTTP).
 */
export function proxied(svc: Pick<ResolvedService, "port" | "proxy" | "stateful">): boolean {
  return svc.port !== undefined && (svc.proxy ?? !svc.stateful);
}
