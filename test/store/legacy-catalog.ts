/** A backup catalog as Slipway wrote it before the store held it: `<home>/backups/catalog.db`. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

const OLD_DDL = `
CREATE TABLE backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO backup_meta VALUES ('schema_version', '1');
CREATE TABLE backup_records (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, env TEXT NOT NULL, service TEXT NOT NULL,
  revision INTEGER, type TEXT NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT, size INTEGER, sha256 TEXT, location TEXT,
  storage_key TEXT NOT NULL, facts TEXT NOT NULL DEFAULT '{}', config TEXT NOT NULL DEFAULT '{}',
  error TEXT, verified_at TEXT, verify_detail TEXT
);`;

export const LEGACY_IDS = ["db-20240501T100000Z-aaaa", "db-20240502T100000Z-bbbb"];

/** Writes an old-style catalog with two records (one verified, one failed) under `home`. */
export function writeLegacyCatalog(home: string): string {
  mkdirSync(join(home, "backups"), { recursive: true });
  const file = join(home, "backups", "catalog.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec(OLD_DDL);
  const ins = db.prepare(
    `INSERT INTO backup_records (id, project, env, service, revision, type, status, source, started_at,
       finished_at, size, sha256, location, storage_key, facts, config, error, verified_at, verify_detail)
     VALUES (?, 'shop', 'production', 'db', ?, 'postgres', ?, 'postgres://app:***@db/shop', ?, ?, ?, ?, ?, ?,
       '{"tables":{"orders":12}}', '{"type":"postgres","url":"postgres://app@db/shop"}', ?, ?, ?)`,
  );
  ins.run(
    LEGACY_IDS[0],
    4,
    "verified",
    "2024-05-01T10:00:00.000Z",
    "2024-05-01T10:00:03.000Z",
    2048,
    "abc123",
    "/x/a.dump",
    "shop/production/db/a.dump",
    null,
    "2024-05-01T11:00:00.000Z",
    "restored: 12 rows",
  );
  ins.run(
    LEGACY_IDS[1],
    null,
    "failed",
    "2024-05-02T10:00:00.000Z",
    "2024-05-02T10:00:01.000Z",
    null,
    null,
    null,
    "shop/production/db/b.dump",
    "pg_dump: connection refused",
    null,
    null,
  );
  db.close();
  return file;
}
