/** What the engine needs from the world, built once by the factory (engine/factory.ts). */
import type { PreflightTarget } from "../checks/types.js";
import type { Driver, Instance } from "../drivers/driver.js";
import type { Logger } from "../logger.js";
import type { TrafficRouter } from "../proxy/contract.js";
import type { ResolvedService } from "../spec/resolved.js";
import type { Store } from "../store/store.js";
import type { EngineEvent } from "./events.js";

export interface HealthOutcome {
  healthy: boolean;
  message: string;
  attempts: number;
}

/** Waits until an instance is healthy per the service's health settings (or gives up). */
export type HealthGate = (
  svc: ResolvedService,
  inst: Instance,
  signal?: AbortSignal,
  opts?: { once?: boolean },
) => Promise<HealthOutcome>;

export interface EngineDeps {
  home: string;
  store: Store;
  driver: Driver;
  /** The data plane; created lazily because only services with a port need it. */
  router: () => Promise<TrafficRouter>;
  health: HealthGate;
  logger: Logger;
  /** Who is acting (user@host), recorded in revisions and locks. */
  actor: string;
  /** Every event of every operation, for subscribers (store timeline, notifier, SSE). */
  publish?: (project: string, env: string, e: EngineEvent) => void;
  /** What the target offers pre-flight checks beyond this machine (Docker SSH hosts, GPU runtimes). */
  preflight?: PreflightTarget;
  /** The clock deploy freezes are judged by (tests inject one). */
  now?: () => Date;
  /**
   * Kubernetes: the kubeconfig context operations will really use (the target's, else the
   * current one), read from the live kubeconfig; `protect.context` is checked against it.
   */
  kubeContext?: () => string | undefined;
}
