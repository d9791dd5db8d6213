/**
 * The BackupProvider contract: one implementation per kind of data (postgres, mysql, redis,
 * files, volume, release). A provider streams a backup into a sink (the manager hashes, sizes
 * and stores it), restores from a local file, and checks a file by restoring it into a scratch
 * database or directory.
 */
import type { Writable } from "node:stream";
import type { Logger } from "../logger.js";

export type BackupType = "postgres" | "mysql" | "redis" | "files" | "volume" | "release";

/** What a provider needs to know; `url` may carry a password (never logged, never stored). */
export interface BackupConfig {
  type: BackupType | "mariadb";
  url?: string;
  /** files: absolute paths (the manager resolves relative ones against `baseDir`). */
  paths?: string[];
  /** volume: Docker volume names. */
  volumes?: string[];
}

/**
 * Facts recorded at backup time and compared by verify: row counts per table, key counts,
 * a file manifest digest … Plain JSON.
 */
export type BackupFacts = Record<string, unknown>;

export interface ProviderContext {
  logger: Logger;
  /** A private temporary directory, removed by the manager afterwards. */
  workDir: string;
  /** Short unique token for scratch resource names (scratch database, scratch server dir). */
  token: string;
}

export interface CheckResult {
  ok: boolean;
  /** One line for humans: what was compared, what differed. */
  detail: string;
  /** What the scratch restore observed (same shape as the facts). */
  observed?: BackupFacts;
}

export interface BackupProvider {
  readonly type: BackupType;
  /** File name extension of the artifact, e.g. "pgdump", "sql.gz", "rdb", "tar.gz". */
  readonly extension: string;
  /** A one-line description of the source without secrets (for records and messages). */
  describe(config: BackupConfig): string;
  /** Write the backup into `sink` (end it) and return the facts verify will compare. */
  dump(config: BackupConfig, sink: Writable, ctx: ProviderContext): Promise<BackupFacts>;
  /** Replace the live data with the backup in `file`. */
  restore(config: BackupConfig, file: string, ctx: ProviderContext): Promise<void>;
  /** Restore `file` into a scratch place and compare with the recorded facts. Scratch is removed. */
  check(config: BackupConfig, file: string, facts: BackupFacts, ctx: ProviderContext): Promise<CheckResult>;
}

/** Compare two count maps; returns the differences as "name: expected → observed". */
export function diffCounts(expected: Record<string, number>, observed: Record<string, number>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(expected), ...Object.keys(observed)])) {
    if (expected[k] !== observed[k])
      out.push(`${k}: ${expected[k] ?? "absent"} → ${observed[k] ?? "absent"}`);
  }
  return out.sort();
}
