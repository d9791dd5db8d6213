/**
 * The driver contract: how a target (local processes, Docker, Kubernetes) runs instances.
 * Drivers work on slots: every service has a `stable` slot and, during a rollout, a
 * `candidate` slot. Strategies (engine/strategies/) are written once against this contract;
 * traffic between slots is the TrafficRouter's job (the Slipway proxy for process and Docker).
 */
import type { ResolvedService } from "../spec/resolved.js";

export type Slot = "stable" | "candidate";
export type InstanceState = "starting" | "running" | "restarting" | "crashloop" | "exited";

export interface InstanceRequest {
  project: string;
  env: string;
  service: ResolvedService;
  revision: number;
  version: string;
  slot: Slot;
  /** 0-based replica index. */
  index: number;
  /** Environment variables for the instance (without PORT; the driver adds PORT and SLIPWAY_*). */
  env_vars: Record<string, string>;
  /** Artifact prepared by prepare() for this revision (release dir, image id …). */
  artifact: Artifact;
}

export interface Artifact {
  service: string;
  revision: number;
  /** Release directory (process), image reference (docker/kubernetes). */
  ref: string;
  /**
   * What the revision records about this artifact beside its ref (the prepare step stores it in the
   * revision's facts under `artifactRecords`, so `history --json` shows it): Kubernetes charts list
   * their rendered objects (Secrets as references), images their resolved digest. Never secret values.
   */
  record?: Record<string, unknown>;
}

export interface Instance {
  /** Stable id, unique within the environment. */
  id: string;
  project: string;
  env: string;
  service: string;
  revision: number;
  version: string;
  slot: Slot;
  index: number;
  state: InstanceState;
  /** Address the proxy routes to (host:port), when the service has a port. */
  host?: string;
  port?: number;
  /** Process target: supervisor and application pids. */
  pid?: number;
  appPid?: number;
  startedAt: string;
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: string };
  /** Driver-specific data needed to adopt the instance after a daemon restart. */
  meta?: Record<string, unknown>;
  /** The artifact (release dir, image) the instance runs; set by the engine. */
  artifact?: string;
  /**
   * Set on a previous slot kept running after a promotion (keep-warm): until then a rollback
   * to it is a traffic switch, not a start. Not routed, not counted in replicas.
   */
  warmUntil?: string;
}

export interface LogLine {
  instance: string;
  stream: "stdout" | "stderr";
  time?: string;
  line: string;
}

export interface LogOptions {
  tail?: number;
  sinceMs?: number;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface InstanceStats {
  /** CPU usage as a ratio of the limit (or of one core when unlimited): 0.5 = 50 %. */
  cpu: number;
  /** Resident memory in bytes. */
  memory: number;
  memoryLimit?: number;
  /** Restarts of the instance since it started (Kubernetes: its pod's container restartCount). */
  restarts?: number;
}

export interface DriverCapabilities {
  trafficSplit: boolean;
  gpus: boolean;
  exec: boolean;
  stats: boolean;
  /** Instances survive the daemon and are adopted from live state. */
  adopt: boolean;
}

/** Why a retired instance is kept: replaced by a newer revision, or its revision failed. */
export type RetireReason = "superseded" | "failed";

export interface StopOptions {
  signal: string;
  graceMs: number;
  /**
   * Keep the stopped instance instead of removing it (Docker: the stopped container, for its
   * `docker logs` and for debugging), marked so that inspect() never reports it as live. Drivers
   * that keep nothing of a stopped instance ignore it.
   */
  retire?: RetireReason;
}

export interface PruneOptions {
  /** Keep the retired instances of this many most recent revisions (default 0: remove all). */
  retired?: number;
}

export interface PrepareOptions {
  /**
   * Only reuse the revision's existing artifact (rollbacks): never build or copy a new one from
   * the working tree, which would run today's code under an old release's name.
   */
  existingOnly?: boolean;
  /**
   * With existingOnly: what the revision recorded about the artifact (its `record`), so the driver
   * reuses exactly that (Kubernetes: the image digest resolved when the revision was deployed).
   */
  recorded?: Record<string, unknown>;
}

export interface Driver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /** Make the artifact of a revision available (copy a release dir, build or check an image). */
  prepare(
    project: string,
    env: string,
    service: ResolvedService,
    revision: number,
    opts?: PrepareOptions,
  ): Promise<Artifact>;
  /**
   * A digest of what prepare() would make a new artifact from (the release files, the local
   * image's id, the build context): equal digests mean the same code. Undefined or absent: not
   * known, so the service is always redeployed.
   */
  sourceDigest?(project: string, env: string, service: ResolvedService): Promise<string | undefined>;
  /** Live instances of an environment, rebuilt from the world (pids, engine labels). */
  inspect(project: string, env: string): Promise<Instance[]>;
  /** Start one instance and return once it is running (not necessarily healthy). */
  start(req: InstanceRequest): Promise<Instance>;
  /**
   * Stop one instance: signal, wait `graceMs`, then kill; remove it, unless `retire` asks to keep it.
   * Returns the name a kept instance goes by from now on (what `docker logs` takes).
   */
  stop(instance: Instance, opts: StopOptions): Promise<{ keptAs?: string } | void>;
  /** Run a one-off command in the release of a service (migrations, exec probes). */
  runOnce(
    req: InstanceRequest,
    command: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ exitCode: number; output: string }>;
  logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine>;
  /** Run a command inside a running instance (containers); absent where commands run on the host. */
  exec?(
    instance: Instance,
    command: string | string[],
    opts?: { timeoutMs?: number },
  ): Promise<{ exitCode: number; output: string }>;
  stats(instance: Instance): Promise<InstanceStats | undefined>;
  /**
   * One instance's live state (undefined: it is gone), for health gates that must notice a
   * container that exited or that the engine reports unhealthy. Absent: the gate uses pids.
   */
  live?(instance: Instance): Promise<Instance | undefined>;
  /**
   * Instances stopped and kept by `stop({ retire })`, newest first; `meta.retired` says why. Not
   * live: never routed, probed or adopted. Absent: the driver keeps none.
   */
  retired?(project: string, env: string): Promise<Instance[]>;
  /** Remove artifacts of revisions not in `keep`, and retired instances beyond `opts.retired` revisions. */
  prune(project: string, env: string, service: string, keep: number[], opts?: PruneOptions): Promise<void>;
  /**
   * Remove what an environment keeps on the target beyond its instances, when asked (Kubernetes:
   * `destroy --delete-namespace` deletes the namespace; it is never deleted otherwise). Returns
   * what was removed. Absent: nothing to remove.
   */
  destroyEnvironment?(project: string, env: string, opts: { deleteNamespace?: boolean }): Promise<string[]>;
  /**
   * `slipway scale`: set a service's running replica count where the platform owns the instances
   * (Kubernetes: the stable Deployment's replicas). Absent: the engine starts and stops instances
   * itself (process, Docker), or says scaling is not supported on this target.
   */
  scale?(project: string, env: string, service: ResolvedService, replicas: number): Promise<Instance[]>;
  close?(): Promise<void>;
}
