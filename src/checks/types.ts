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
  /** Items confirmed up front (`--confirm ITEM`). */
  confirmed?: string[];
  /** Items of `confirmed` that were answered at an interactive prompt (recorded `via: "prompt"`). */
  prompted?: string[];
  /** Who confirmed (user@host), recorded in confirm results. */
  confirmedBy?: string;
  /** Interactive prompt for items not confirmed up front; absent in non-interactive runs. */
  confirm?(item: string): Promise<boolean>;
  signal?: AbortSignal;
  /** Called as each check starts and ends, for live progress. */
  onStart?(check: { name: string; kind: CheckKind }, index: number): void;
  onResult?(result: CheckResult, index: number): void;
}

/** What one check implementation returns; the runner adds name, kind, severity and duration. */
export interface CheckOutcome {
  status: "passed" | "failed" | "skipped";
  evidence: string;
  details?: Record<string, unknown>;
}

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
