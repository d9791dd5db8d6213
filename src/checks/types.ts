/** The pre-flight check contract: what a check gets, what it reports. */
import type { CheckKind, CheckSpec } from "../spec/schema-checks.js";

export type { CheckKind, CheckSpec };
export type CheckStatus = "passed" | "failed" | "warning" | "skipped";

export interface CheckResult {
  name: string;
  kind: CheckKind;
  /** A failure of a `severity: warning` check is reported as "warning" and does not stop a deploy. */
  status: CheckStatus;
  /** What was observed, in one or a few lines; secrets redacted. */
  evidence: string;
  durationMs: number;
  details?: Record<string, unknown>;
  /** Evidence lines the checklist shows for a pass (default 1; a check run on several hosts shows one per host). */
  summaryLines?: number;
  /** One status per evidence line, when the lines are several measurements (a renderer marks each). */
  lineStatus?: LineStatus[];
}

/**
 * A machine a check runs commands on: a remote Docker host (over SSH, with the driver's settings).
 * The real implementation is injected (factory.ts); this module knows no SSH library.
 */
export interface HostShell {
  /** How the host is named in evidence (user@host:port as the spec writes it). */
  readonly name: string;
  /**
   * Runs a /bin/sh command line on the host. Resolves with its exit status and output; rejects
   * with a message saying what went wrong (no stack) when the host cannot be reached.
   */
  run(
    command: string,
    opts: { signal: AbortSignal; timeoutMs: number },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The Docker root dir of the host's engine (a relative disk path means it); undefined when unknown. */
  dockerRootDir?(): Promise<string | undefined>;
}

/** What a deploy target offers pre-flight checks beyond this machine. */
export interface PreflightTarget {
  /** The target's remote machines: `resources` and `gpu` run on each. [] → they measure this machine. */
  hosts(): Promise<HostShell[]>;
  /** Per engine host ("local" or user@host:port): is the NVIDIA runtime registered (docker info)? */
  gpuSupport?(): Promise<Array<{ host: string; nvidia: boolean; runtimes: string[]; error?: string }>>;
}

/** A check the runner adds by itself (not written in `checks:`), e.g. the GPU runtime a service needs. */
export interface AutomaticCheck {
  name: string;
  kind: CheckKind;
  timeoutMs: number;
  /** A failure is reported as a warning and does not stop a deploy. */
  warnOnly?: boolean;
  run(run: CheckRun): Promise<CheckOutcome>;
}

export interface CheckContext {
  /** Directory relative paths are resolved against (the spec's directory). */
  cwd: string;
  /** The interpolation variables (env files + process environment) the spec was resolved with. */
  vars: Record<string, string | undefined>;
  /**
   * Environment for `command` checks and for finding nvidia-smi (default process.env); `vars`
   * are added over it.
   */
  env?: Record<string, string | undefined>;
  /**
   * Secret values to redact from evidence. Values of variables named like secrets (…SECRET,
   * …PASSWORD, …TOKEN, …KEY) and of every variable an `env` check names are redacted too.
   */
  secrets?: Iterable<string>;
  /** The deploy target's machines when they are not this one (Docker hosts over SSH). */
  target?: PreflightTarget;
  /** Items the runner runs after the spec's checks (their results follow the spec's, in order). */
  automatic?: AutomaticCheck[];
  /** Items confirmed up front (`--confirm ITEM`). */
  confirmed?: string[];
  /** Items of `confirmed` that were answered at an interactive prompt (recorded `via: "prompt"`). */
  prompted?: string[];
  /** Who confirmed (user@host), recorded in confirm results. */
  confirmedBy?: string;
  /**
   * `secretAge`: when each named secret's current value was first seen, and where it comes from
   * (the engine records keyed hashes in the store). Absent: the check cannot run.
   */
  secretAges?: SecretAges;
  /** Interactive prompt for items not confirmed up front; absent in non-interactive runs. */
  confirm?(item: string): Promise<boolean>;
  signal?: AbortSignal;
  /** Called as each check starts and ends, for live progress. */
  onStart?(check: { name: string; kind: CheckKind }, index: number): void;
  onResult?(result: CheckResult, index: number): void;
}

/** First sight of each named secret's current value; undefined: no value for that name here. */
export type SecretAges = (
  names: string[],
) => Promise<Record<string, { firstSeen: string; source: string } | undefined>>;

/** What one check implementation returns; the runner adds name, kind, severity and duration. */
export interface CheckOutcome {
  /** "warning": passes, but someone should act soon (a secret near its maximum age). */
  status: "passed" | "failed" | "skipped" | "warning";
  evidence: string;
  details?: Record<string, unknown>;
  summaryLines?: number;
  /** One status per evidence line, when the lines are several measurements (a renderer marks each). */
  lineStatus?: LineStatus[];
}

/** The status of one evidence line: a measurement within its maximum, over it, or not measured. */
export type LineStatus = "passed" | "failed" | "skipped" | "warning";

/** Everything a check implementation gets besides its spec. */
export interface CheckRun {
  ctx: CheckContext;
  /** Aborts at the check's timeout or when the whole run is cancelled. */
  signal: AbortSignal;
  timeoutMs: number;
}

export const passed = (evidence: string, details?: Record<string, unknown>): CheckOutcome => ({
  status: "passed",
  evidence,
  ...(details ? { details } : {}),
});
export const failed = (evidence: string, details?: Record<string, unknown>): CheckOutcome => ({
  status: "failed",
  evidence,
  ...(details ? { details } : {}),
});

/** What was measured on one machine, for the parts the check asks about. */
export interface ResourceMeasurement {
  disk?: { path: string; used: number; freeBytes: number } | { path: string; error: string };
  memory?: { used: number; availableBytes: number };
  cpu?: { load1: number; cores: number };
}
