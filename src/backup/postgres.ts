/**
 * PostgreSQL: pg_dump custom format, restored with pg_restore --clean --if-exists in one
 * transaction. Row counts are taken in the very snapshot pg_dump dumps (pg_export_snapshot +
 * pg_dump --snapshot), so verify can compare them exactly even while the database is written to.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import pg from "pg";
import { OperationFailed } from "../errors.js";
import { backupUrl, redactUrl, run } from "./exec.js";
import type { BackupConfig, BackupFacts, BackupProvider, CheckResult, ProviderContext } from "./provider.js";
import { diffCounts } from "./provider.js";

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

interface PgTarget {
  /** URL without the password, safe for argv. */
  url: string;
  password?: string;
  /** The full URL for the in-process client. */
  full: string;
  database: string;
}

function target(config: BackupConfig): PgTarget {
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

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(db)}`;
  return u.toString();
}

function toolEnv(t: PgTarget): Record<string, string | undefined> {
  return t.password !== undefined ? { PGPASSWORD: t.password } : {};
}

async function connect(url: string): Promise<pg.Client> {
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

const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 1, 2`;

async function rowCounts(c: pg.Client): Promise<Record<string, number>> {
  const tables = await c.query<{ schema: string; name: string }>(TABLES_SQL);
  const counts: Record<string, number> = {};
  for (const t of tables.rows) {
    const q = `SELECT count(*)::bigint AS n FROM ${c.escapeIdentifier(t.schema)}.${c.escapeIdentifier(t.name)}`;
    const r = await c.query<{ n: string }>(q);
    counts[`${t.schema}.${t.name}`] = Number(r.rows[0].n);
  }
  return counts;
}

export const postgresProvider: BackupProvider = {
  type: "postgres",
  extension: "pgdump",

  describe(config) {
    return config.url ? redactUrl(config.url) : "postgres";
  },

  async dump(config, sink: Writable, ctx: ProviderContext): Promise<BackupFacts> {
    const t = target(config);
    const c = await connect(t.full);
    try {
      await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const snap = await c.query<{ s: string }>("SELECT pg_export_snapshot() AS s");
      const snapshot = snap.rows[0].s;
      // pg_dump imports the snapshot while this transaction holds it; counting runs alongside.
      const dumping = run(pgTool("pg_dump"), ["-Fc", `--snapshot=${snapshot}`, `--dbname=${t.url}`], {
        env: toolEnv(t),
        stdout: sink,
        secrets: [t.password ?? ""],
      });
      const counting = rowCounts(c);
      const [, tables] = await Promise.all([dumping, counting]);
      ctx.logger.debug("pg_dump finished", { tables: Object.keys(tables).length });
      return { database: t.database, tables };
    } finally {
      await c.query("ROLLBACK").catch(() => {});
      await c.end().catch(() => {});
    }
  },

  async restore(config, file, ctx) {
    const t = target(config);
    ctx.logger.info("pg_restore", { into: redactUrl(t.url) });
    await run(
      pgTool("pg_restore"),
      ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", `--dbname=${t.url}`, file],
      { env: toolEnv(t), secrets: [t.password ?? ""] },
    );
  },

  async check(config, file, facts, ctx): Promise<CheckResult> {
    const t = target(config);
    const scratch = `slipway_verify_${ctx.token}`;
    const admin = await connect(t.full);
    try {
      try {
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(scratch)} TEMPLATE template0`);
      } catch (e) {
        throw new OperationFailed(
          `cannot create the scratch database ${scratch} on ${redactUrl(t.url)} (the backup user needs ` +
            `CREATEDB): ${e instanceof Error ? e.message : String(e)}`,
        );
      }
      try {
        try {
          await run(
            pgTool("pg_restore"),
            [
              "--no-owner",
              "--no-acl",
              "--single-transaction",
              "--exit-on-error",
              `--dbname=${withDatabase(t.url, scratch)}`,
              file,
            ],
            { env: toolEnv(t), secrets: [t.password ?? ""] },
          );
        } catch (e) {
          return { ok: false, detail: `pg_restore into a scratch database failed: ${(e as Error).message}` };
        }
        const sc = await connect(withDatabase(t.full, scratch));
        let observed: Record<string, number>;
        try {
          observed = await rowCounts(sc);
        } finally {
          await sc.end().catch(() => {});
        }
        const expected = (facts.tables ?? {}) as Record<string, number>;
        const diff = diffCounts(expected, observed);
        const rows = Object.values(observed).reduce((a, b) => a + b, 0);
        return diff.length
          ? { ok: false, detail: `row counts differ: ${diff.join("; ")}`, observed: { tables: observed } }
          : {
              ok: true,
              detail: `restored into a scratch database: ${Object.keys(observed).length} tables, ${rows} rows match`,
              observed: { tables: observed },
            };
      } finally {
        await admin
          .query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(scratch)}`)
          .catch((e: unknown) =>
            ctx.logger.warn("could not drop the scratch database", { database: scratch, error: String(e) }),
          );
      }
    } finally {
      await admin.end().catch(() => {});
    }
  },
};
