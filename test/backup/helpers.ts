/** A BackupManager on a real SQLite store in a temp SLIPWAY_HOME, plus a logger that records. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { Logger } from "../../src/logger.js";
import { BackupManager } from "../../src/backup/index.js";
import type { BackupManagerOptions } from "../../src/backup/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

export interface Harness {
  home: string;
  /** The store's SQLite handle (tests tamper with backup_records through it). */
  db: Database.Database;
  manager: BackupManager;
  /** Everything logged, as JSON lines (to assert secrets never appear). */
  logged: string[];
  close(): void;
}

export function harness(extra: Partial<BackupManagerOptions> = {}): Harness {
  const home = mkdtempSync(join(tmpdir(), "slipway-backup-home-"));
  const store = SqliteStore.open({ home: join(home, "state") });
  const db = store.raw();
  const logged: string[] = [];
  const rec =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      logged.push(JSON.stringify({ level, msg, ...fields }));
    };
  const logger: Logger = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
  const manager = new BackupManager({ store, home, logger, ...extra });
  return {
    home,
    db,
    manager,
    logged,
    close() {
      db.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Flip one byte in the middle of a file (a corrupted backup). */
export async function corrupt(path: string): Promise<void> {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const b = readFileSync(path);
  const i = Math.floor(b.length / 2);
  b[i] = b[i] ^ 0xff;
  writeFileSync(path, b);
}
