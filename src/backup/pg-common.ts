/** What the PostgreSQL provider's backup, check and restore share: the target, a client, the tools. */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { OperationFailed } from "../errors.js";
import { backupUrl, redactUrl } from "./exec.js";
import type { BackupConfig } from "./provider.js";

/** The newest installed PostgreSQL client tools (pg_dump must be at least the server's version). */
export function pgTool(name: "pg_dump" | "pg_restore"): string {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", name)))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(root, versions[0], "bin", name);
  }
  return name;
}

export interface PgTarget {
  /** URL without the password, safe for argv. */
  url: string;
  password?: string;
  /** The full URL for the in-process client. */
  full: string;
  database: string;
}

export function target(config: BackupConfig): PgTarget {
  const { u } = backupUrl("postgres", config.url, ["postgres:", "postgresql:"]);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const full = u.toString();
  u.password = "";
  return {
    url: u.toString(),
    password,
    full,
    database: decodeURIComponent(u.pathname.slice(1)) || "postgres",
  };
}

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

export function toolEnv(t: PgTarget): Record<string, string | undefined> {
  return t.password !== undefined ? { PGPASSWORD: t.password } : {};
}

export async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  // An idle-connection error must not crash the process; the pending query reports it.
  c.on("error", () => {});
  try {
    await c.connect();
  } catch (e) {
    throw new OperationFailed(
      `cannot connect to ${redactUrl(url)}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return c;
}

export const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

export async function rowCounts(c: pg.Client): Promise<Record<string, number>> {
  const tables = await c.query<{ schema: string; name: string }>(TABLES_SQL);
  const counts: Record<string, number> = {};
  for (const t of tables.rows) {
    const q = `SELECT count(*)::bigint AS n FROM ${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`;
    const r = await c.query<{ n: string }>(q);
    counts[`${t.schema}.${t.name}`] = Number(r.rows[0].n);
  }
  return counts;
}
