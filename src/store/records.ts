/**
 * Records the store keeps for other rooms: the backup catalog and alert silences. They live
 * in the store (not in files of their own) so that a shared PostgreSQL store holds all the
 * durable state and a second daemon can take over.
 */
import type { BackupRecord } from "../backup/record.js";

export type { BackupRecord, BackupStatus } from "../backup/record.js";

/** An alert silence of one environment (Alertmanager's model: label matchers and a window). */
export interface SilenceRecord {
  id: string;
  project: string;
  env: string;
  /** label → accepted values ("!x" excludes x). */
  matchers: Record<string, string[]>;
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  createdAt: string;
}

/** The backup catalog and silences part of the Store contract (store.ts). */
export interface RecordStore {
  /** Insert, or replace the record with the same id. */
  putBackup(rec: BackupRecord): Promise<void>;
  getBackup(id: string): Promise<BackupRecord | undefined>;
  /** Newest first (startedAt, then id, descending); every service unless one is given. */
  listBackups(project: string, env: string, service?: string): Promise<BackupRecord[]>;
  /** Backups of every environment still marked running (a process died during them?). */
  runningBackups(): Promise<BackupRecord[]>;
  /** True when a record was removed. */
  deleteBackup(id: string): Promise<boolean>;

  addSilence(s: SilenceRecord): Promise<void>;
  getSilence(project: string, env: string, id: string): Promise<SilenceRecord | undefined>;
  /** Newest first; with `endsAfter`, only silences ending after that time (active and pending). */
  listSilences(project: string, env: string, opts?: { endsAfter?: string }): Promise<SilenceRecord[]>;
  /** Moves a silence's end (expiring it); false when there is no such silence. */
  setSilenceEnd(project: string, env: string, id: string, endsAt: string): Promise<boolean>;
  /** Removes silences that ended before `before`; returns how many. */
  pruneSilences(before: string): Promise<number>;
}
