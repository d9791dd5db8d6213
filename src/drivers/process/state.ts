/**
 * What the driver and a shim share: the configuration handed to the shim over its stdin pipe
 * (never written to disk: it carries the instance's secrets) and the state file the shim keeps
 * in the instance directory (no secrets).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { InstanceState, Slot } from "../driver.js";

export const STATE_FILE = "state.json";
export const STOP_FILE = "stop.json";
export const SHIM_LOG = "shim.log";
export const LOG_DIR = "logs";
export const LOG_FILE = "app.log";

/** Identity of an instance, written into its state file so a new driver can adopt it. */
export interface InstanceIdentity {
  id: string;
  project: string;
  env: string;
  service: string;
  revision: number;
  version: string;
  slot: Slot;
  index: number;
  host?: string;
  port?: number;
  /** The release directory the app runs in (where `health.exec` runs too). */
  release?: string;
}

export interface RestartPolicy {
  policy: "always" | "on-failure" | "no";
  backoffMs: number;
  maxBackoffMs: number;
  crashLoopRestarts: number;
  crashLoopWithinMs: number;
}

export interface ShimConfig {
  identity: InstanceIdentity;
  instanceDir: string;
  /** Release directory: the application's working directory. */
  cwd: string;
  run: string;
  /** Complete environment of the application (secrets included): kept in memory only. */
  env: Record<string, string>;
  stopSignal: NodeJS.Signals;
  graceMs: number;
  restart: RestartPolicy;
  logs: { maxSize: number; maxFiles: number };
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  at: string;
}

export interface ShimState extends InstanceIdentity {
  state: InstanceState;
  shimPid: number;
  /** /proc start time (field 22) of the shim: pid + start time survive pid reuse. */
  shimStartTime: number;
  appPid?: number;
  appStartTime?: number;
  startedAt: string;
  appStartedAt?: string;
  restarts: number;
  lastExit?: ExitInfo;
  /** Set once the shim has finished a stop and is about to exit. */
  stopped?: boolean;
}

/** Written by the driver before it signals the shim, so stop() options win over the spec's. */
export interface StopRequest {
  signal: NodeJS.Signals;
  graceMs: number;
}

/** Atomic JSON write: temp file, fsync, rename. Readers see the old or the new file, never half. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export function readState(instanceDir: string): ShimState | undefined {
  return readJson<ShimState>(join(instanceDir, STATE_FILE));
}
