/**
 * Applies the store's SQLite migrations (store/migrations/sqlite/, loaded by ../migrate.ts),
 * each in its own IMMEDIATE transaction, recorded in schema_migrations.
 */
import type Database from "better-sqlite3";
import type { Logger } from "../../logger.js";
import { loadMigrations, newerSchemaError } from "../migrate.js";

export function migrate(db: Database.Database, file: string, log: Logger): void {
  const migrations = loadMigrations("sqlite");
  const latest = migrations.length;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const current = (): number =>
    (db.prepare(`SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations`).get() as { v: number }).v;
  if (current() > latest) throw newerSchemaError(file, current(), latest);
  for (const m of migrations) {
    // IMMEDIATE: take the write lock first, then re-check, so two processes opening a fresh
    // store at once apply each migration exactly once.
    const applied = db
      .transaction(() => {
        if (db.prepare(`SELECT 1 FROM schema_migrations WHERE version = ?`).get(m.version)) return false;
        db.exec(m.sql);
        db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(
          m.version,
          m.name,
          new Date().toISOString(),
        );
        return true;
      })
      .immediate();
    if (applied) log.info("store migration applied", { file, version: m.version, name: m.name });
  }
}
