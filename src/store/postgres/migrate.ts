/**
 * Applies the store's PostgreSQL migrations (store/migrations/postgres/, loaded by ../migrate.ts)
 * under an advisory lock, each in its own transaction, recorded in schema_migrations.
 */
import type pg from "pg";
import type { Logger } from "../../logger.js";
import { StoreError } from "../errors.js";
import { loadMigrations, newerSchemaError } from "../migrate.js";

export async function migrate(pool: pg.Pool, schema: string, where: string, log: Logger): Promise<void> {
  const migrations = loadMigrations("postgres");
  const latest = migrations.length;
  const client = await pool.connect();
  // A session advisory lock: two daemons starting at once migrate one after the other.
  const key = `slipway-migrate:${schema}`;
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [key]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ v: number }>(
        `SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations`,
      );
      const current = rows[0].v;
      if (current > latest) throw newerSchemaError(`${where} (schema ${schema})`, current, latest);
      for (const m of migrations.filter((x) => x.version > current)) {
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, [
            m.version,
            m.name,
          ]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => {});
          throw new StoreError(
            `store migration ${m.version}_${m.name} failed on ${where}: ${(e as Error).message}`,
          );
        }
        log.info("store migration applied", { database: where, schema, version: m.version, name: m.name });
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [key]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
