/**
 * The backup catalog: one record per backup, kept in the store (store/records.ts), so a
 * PostgreSQL store holds it with everything else. Catalogs written before the store held it
 * (`<SLIPWAY_HOME>/backups/catalog.db`) are imported once by importLegacyCatalog.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { BackupRecord } from "./record.js";

export type { BackupRecord, BackupStatus } from "./record.js";

/** The slice of the Store the catalog uses (the store implements it; DESIGN §7). */
export interface CatalogStore {
  putBackup(rec: BackupRecord): Promise<void>;
  getBackup(id: string): Promise<BackupRecord | undefined>;
  listBackups(project: string, env: string, service?: string): Promise<BackupRecord[]>;
  runningBackups(): Promise<BackupRecord[]>;
  deleteBackup(id: string): Promise<boolean>;
}

export class BackupCatalog {
  constructor(private readonly store: CatalogStore) {}

  insert(r: BackupRecord): Promise<void> {
    return this.store.putBackup(r);
  }

  update(r: BackupRecord): Promise<void> {
    return this.store.putBackup(r);
  }

  get(id: string): Promise<BackupRecord | undefined> {
    return this.store.getBackup(id);
  }

  /** Newest first. */
  list(project: string, env: string, service?: string): Promise<BackupRecord[]> {
    return this.store.listBackups(project, env, service);
  }

  running(): Promise<BackupRecord[]> {
    return this.store.runningBackups();
  }

  async delete(id: string): Promise<void> {
    await this.store.deleteBackup(id);
  }

  /** Backups left running by a process that died are marked failed; their work files go. */
  async markInterrupted(workDir: string): Promise<BackupRecord[]> {
    const out = await this.running();
    for (const r of out) {
      for (const name of readdirSync(workDir))
        if (name === `${r.id}.partial` || name.startsWith(`${r.id}-`))
          rmSync(join(workDir, name), { recursive: true, force: true });
      r.status = "failed";
      r.error = "interrupted: the process stopped during the backup";
      r.finishedAt ??= new Date().toISOString();
      await this.update(r);
    }
    return out;
  }
}
