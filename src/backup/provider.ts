/**
 * The BackupProvider contract: one implementation per kind of data (postgres, mysql, redis,
 * files, volume, release). A provider streams a backup into a sink (the manager hashes, sizes
 * and stores it), restores from a local file, and checks a file by restoring it into a scratch
 * database or directory.
 */
import type { Writable } from "node:stream";
import type { Logger } from "../logger.js";

/** Which data a restore left live: the data it replaced ("old") or the backup's ("new"). */
export type RestoreSide = "old" | "new";

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
  /** The backup file being restored (a provider that can only restore in place needs it to swap). */
  file?: string;
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
  /**
   * Load the backup in `file` beside the live data, under names derived from `ctx.token` (a
   * scratch database, temporary keys, a sibling directory). The live data is not touched.
   */
  stage(config: BackupConfig, file: string, ctx: ProviderContext): Promise<void>;
  /**
   * Swap the staged data in, in one atomic step (a rename, a transaction, MULTI/EXEC); the live
   * data it replaces is kept aside under the same token until `settle`.
   */
  swap(config: BackupConfig, ctx: ProviderContext): Promise<void>;
  /**
   * Finish a restore, or clean up after one that was interrupted (a failure, a crash): make
   * `want` the live data where it can ("new" only when the stage had finished), drop what is left
   * aside, and say which data is live now. Safe to call again; finds its state by `ctx.token`.
   */
  settle(config: BackupConfig, ctx: ProviderContext, want: RestoreSide): Promise<RestoreSide>;
  /** Restore `file` into a scratch place and compare with the recorded facts. Scratch is removed. */
  check(config: BackupConfig, file: string, facts: BackupFacts, ctx: ProviderContext): Promise<CheckResult>;
}

/**
 * A whole restore: stage, swap, settle on the new data. A failure before the swap leaves the old
 * data live (the staging is dropped). With `keepPrevious` it stops after the swap: the caller
 * settles later (old or new), when the operation the restore belongs to ends.
 */
export async function stagedRestore(
  p: BackupProvider,
  config: BackupConfig,
  file: string,
  ctx: ProviderContext,
  opts: { phase?: (name: "stage" | "swap" | "settle") => Promise<void>; keepPrevious?: boolean } = {},
): Promise<void> {
  const phase = opts.phase ?? (async () => {});
  try {
    await phase("stage");
    await p.stage(config, file, ctx);
    await phase("swap");
    await p.swap(config, ctx);
  } catch (e) {
    await p.settle(config, ctx, "old").catch(() => {});
    throw e;
  }
  if (opts.keepPrevious) return;
  await phase("settle");
  await p.settle(config, ctx, "new");
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
