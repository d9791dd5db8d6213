/** What callers hand the BackupManager, and the error for an unknown backup id. */
import { UsageError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { CatalogStore } from "./catalog.js";
import type { RestoreSide, BackupConfig, BackupProvider, BackupType } from "./provider.js";
import type { BackupStorage } from "./storage.js";

export class BackupNotFound extends UsageError {
  override name = "BackupNotFound";
  constructor(readonly id: string) {
    super(`no backup with id "${id}" (slipway backups ENV lists them)`);
    this.details = { id };
  }
}

export interface BackupManagerOptions {
  /** The store: the catalog is one of its parts (SQLite or PostgreSQL alike). */
  store: CatalogStore;
  /** SLIPWAY_HOME; artifacts go to `${home}/backups/<project>/<env>/<service>/` by default. */
  home: string;
  logger?: Logger;
  storage?: BackupStorage;
  /** Override or add providers (tests, an engine-specific volume locator). */
  providers?: Partial<Record<BackupType, BackupProvider>>;
}

export interface BackupRequest {
  project: string;
  env: string;
  service: string;
  revision?: number;
  /** The service's resolved `backup:` block (secrets in the URL are used, never stored). */
  config: BackupConfig;
  /** Relative `paths` are resolved against this directory (the directory of slipway.yaml). */
  baseDir?: string;
}

export interface ReleaseBackupRequest {
  project: string;
  env: string;
  revision?: number;
  /** The resolved spec snapshot, with secrets already replaced by ${VAR} templates. */
  spec: unknown;
  /** The images (or artifact references) of the release, by service. */
  images: Record<string, string> | string[];
}

export interface ReleaseSnapshot {
  format: "slipway-release/1";
  project: string;
  env: string;
  revision?: number;
  createdAt: string;
  spec: unknown;
  images: Record<string, string> | string[];
}

export interface RestoreOptions {
  /** The current `backup:` config (supplies credentials); default: the one recorded, without password. */
  config?: BackupConfig;
  /** Restore a backup marked corrupt (its checksum must still match). */
  force?: boolean;
  /**
   * Names the staged data (a scratch database, temporary keys, a sibling directory): the caller
   * journals it before the restore starts, so recovery can settle a restore a crash cut short.
   */
  token?: string;
  /** Called before each phase (stage, swap, settle): the caller journals how far it got. */
  phase?: (name: RestorePhase) => Promise<void>;
  /** Stop after the swap, the replaced data kept aside: the caller calls settle() later. */
  keepPrevious?: boolean;
}

/** The phases of a staged restore, in order. */
export type RestorePhase = "stage" | "swap" | "settle";

export interface SettleOptions {
  config?: BackupConfig;
  /** The token the interrupted restore was given. */
  token: string;
  /** Which data to leave live where possible; "new" only when the stage had finished. */
  want: RestoreSide;
}
