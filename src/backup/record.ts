/** One backup as the catalog records it (kept by the store: store/records.ts). */
import type { BackupConfig, BackupFacts, BackupType } from "./provider.js";

export type BackupStatus = "running" | "ok" | "failed" | "verified" | "corrupt";

export interface BackupRecord {
  /** Short and typeable: `<service>-<UTC timestamp>-<4 hex>`. */
  id: string;
  project: string;
  env: string;
  service: string;
  revision?: number;
  type: BackupType;
  status: BackupStatus;
  /** What was backed up, without secrets (a redacted URL, the paths …). */
  source: string;
  startedAt: string;
  finishedAt?: string;
  /** Bytes of the artifact. */
  size?: number;
  sha256?: string;
  /** Where the artifact is (a file path for local storage). */
  location?: string;
  /** Storage key of the artifact. */
  key: string;
  /** Facts recorded at backup time (row counts, key counts, file manifest). */
  facts: BackupFacts;
  /** The provider configuration with the URL's password removed. */
  config: BackupConfig;
  /** Why the backup failed, or why it was found corrupt. */
  error?: string;
  verifiedAt?: string;
  /** One line from the last verify. */
  verifyDetail?: string;
}
