/**
 * State an earlier Slipway kept beside the store, brought into it once. The backup catalog
 * was its own SQLite file, `<home>/backups/catalog.db`: its records are copied into the store
 * (records already there win) and the file is renamed `catalog.db.imported`, so the import
 * runs once per machine and the old file stays for whoever wants to look at it.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { backupFromRow } from "./record-rows.js";
import type { Store } from "./store.js";

export function legacyCatalogPath(home: string): string {
  return join(home, "backups", "catalog.db");
}

/** Returns how many records were imported (0 when there was nothing to import). */
export async function importLegacyCatalog(store: Store, home: string, logger?: Logger): Promise<number> {
  const log = logger ?? silentLogger;
  const file = legacyCatalogPath(home);
  if (!existsSync(file)) return 0;
  const { default: Database } = await import("better-sqlite3");
  let rows: Record<string, unknown>[];
  // Opened read-write on purpose: closing folds a leftover -wal file into the database.
  const db = new Database(file, { fileMustExist: true, timeout: 10_000 });
  try {
    const has = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'backup_records'")
      .get();
    rows = has ? (db.prepare("SELECT * FROM backup_records").all() as Record<string, unknown>[]) : [];
  } finally {
    db.close();
  }
  let imported = 0;
  for (const row of rows) {
    const rec = backupFromRow(row);
    if (await store.getBackup(rec.id)) continue;
    await store.putBackup(rec);
    imported++;
  }
  renameSync(file, `${file}.imported`);
  for (const extra of ["-wal", "-shm"]) rmSync(`${file}${extra}`, { force: true });
  log.info("backup catalog imported into the store", { file, records: imported });
  return imported;
}
