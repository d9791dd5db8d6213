/**
 * PostgreSQL restores, staged: the dump goes into a scratch database `slipway_restore_<token>`
 * created like the live one (owner, encoding, collation, database-level settings and grants);
 * the swap renames the live database to `slipway_prev_<token>` and the scratch one to the live
 * name in one transaction (connections to the live database are refused and ended first: a
 * database in use cannot be renamed); settle drops whichever is left aside, or renames back.
 *
 * Where the backup user may not create a database, the restore falls back to pg_restore --clean
 * in one transaction into the live database: still all or nothing, but nothing to rename back.
 */
import type pg from "pg";
import { OperationFailed } from "../errors.js";
import { redactUrl, run } from "./exec.js";
import { connect, type PgTarget, pgTool, toolEnv, withDatabase } from "./pg-common.js";
import type { ProviderContext, RestoreSide } from "./provider.js";

const names = (token: string) => ({ staging: `slipway_restore_${token}`, previous: `slipway_prev_${token}` });

/** A maintenance database to work from: a database cannot be renamed by a session connected to it. */
async function admin(t: PgTarget): Promise<pg.Client> {
  const db = t.database === "postgres" ? "template1" : "postgres";
  return connect(withDatabase(t.full, db));
}

async function exists(c: pg.Client, db: string): Promise<boolean> {
  const r = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [db]);
  return r.rowCount === 1;
}

interface LiveProps {
  owner: string;
  encoding: string;
  collate: string;
  ctype: string;
  settings: string[];
  grants: { grantee: string; privilege: string }[];
}

async function liveProps(c: pg.Client, db: string): Promise<LiveProps> {
  const r = await c.query<{ owner: string; encoding: string; collate: string; ctype: string; acl: boolean }>(
    `SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,
            datcollate AS collate, datctype AS ctype, datacl IS NOT NULL AS acl
       FROM pg_database WHERE datname = $1`,
    [db],
  );
  if (!r.rows[0]) throw new OperationFailed(`database "${db}" does not exist`);
  const s = await c.query<{ setconfig: string[] | null }>(
    `SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = 0`,
    [db],
  );
  const grants = r.rows[0].acl
    ? (
        await c.query<{ grantee: string; privilege: string }>(
          `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                  a.privilege_type AS privilege
             FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1`,
          [db],
        )
      ).rows
    : [];
  return { ...r.rows[0], settings: s.rows[0]?.setconfig ?? [], grants };
}

/** CREATE DATABASE like the live one; false when the user may not create databases. */
async function createLike(
  c: pg.Client,
  t: PgTarget,
  scratch: string,
  ctx: ProviderContext,
): Promise<boolean> {
  const p = await liveProps(c, t.database);
  const id = (s: string) => c.escapeIdentifier(s);
  const lit = (s: string) => c.escapeLiteral(s);
  try {
    await c.query(
      `CREATE DATABASE ${id(scratch)} TEMPLATE template0 OWNER ${id(p.owner)} ENCODING ${lit(p.encoding)} ` +
        `LC_COLLATE ${lit(p.collate)} LC_CTYPE ${lit(p.ctype)}`,
    );
  } catch (e) {
    const code = (e as { code?: string }).code;
    // 42501: no CREATEDB (or not a member of the owner role): fall back to one transaction.
    if (code === "42501") {
      ctx.logger.warn("cannot create a scratch database; restoring in one transaction instead", {
        error: (e as Error).message,
      });
      return false;
    }
    throw e;
  }
  for (const setting of p.settings) {
    const eq = setting.indexOf("=");
    await c.query(
      `ALTER DATABASE ${id(scratch)} SET ${id(setting.slice(0, eq))} TO ${lit(setting.slice(eq + 1))}`,
    );
  }
  if (p.grants.length) {
    await c.query(`REVOKE ALL ON DATABASE ${id(scratch)} FROM PUBLIC`);
    for (const g of p.grants)
      await c.query(
        `GRANT ${g.privilege} ON DATABASE ${id(scratch)} TO ${g.grantee === "PUBLIC" ? "PUBLIC" : id(g.grantee)}`,
      );
  }
  return true;
}

export async function pgStage(t: PgTarget, file: string, ctx: ProviderContext): Promise<void> {
  const { staging } = names(ctx.token);
  const c = await admin(t);
  try {
    if (!(await createLike(c, t, staging, ctx))) return;
  } finally {
    await c.end().catch(() => {});
  }
  ctx.logger.info("pg_restore into a scratch database", { database: staging });
  await run(
    pgTool("pg_restore"),
    ["--single-transaction", "--exit-on-error", `--dbname=${withDatabase(t.url, staging)}`, file],
    { env: toolEnv(t), secrets: [t.password ?? ""] },
  );
}

/** Rename `from` → `to` and `next` → `from` in one transaction, with `from` closed to connections. */
async function renamePair(c: pg.Client, from: string, to: string, next: string): Promise<void> {
  const id = (s: string) => c.escapeIdentifier(s);
  await c.query(`ALTER DATABASE ${id(from)} WITH ALLOW_CONNECTIONS false`);
  try {
    for (let attempt = 0; ; attempt++) {
      await c.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [from],
      );
      try {
        await c.query("BEGIN");
        await c.query(`ALTER DATABASE ${id(from)} RENAME TO ${id(to)}`);
        await c.query(`ALTER DATABASE ${id(next)} RENAME TO ${id(from)}`);
        await c.query("COMMIT");
        break;
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        // 55006: still in use (a backend that was ending): try again shortly.
        if ((e as { code?: string }).code !== "55006" || attempt >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    // The database now under `from` takes connections; the one set aside (`to`) need not.
    await c.query(`ALTER DATABASE ${id(from)} WITH ALLOW_CONNECTIONS true`).catch(() => {});
  }
}

/** pg_restore --clean in one transaction: the fallback when no scratch database can be made. */
async function inPlace(t: PgTarget, file: string | undefined): Promise<void> {
  if (!file) throw new OperationFailed("nothing was staged and no backup file is at hand");
  await run(
    pgTool("pg_restore"),
    ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", `--dbname=${t.url}`, file],
    { env: toolEnv(t), secrets: [t.password ?? ""] },
  );
}

export async function pgSwap(t: PgTarget, ctx: ProviderContext): Promise<void> {
  const { staging, previous } = names(ctx.token);
  const c = await admin(t);
  try {
    if (!(await exists(c, staging))) return await inPlace(t, ctx.file);
    ctx.logger.info("swapping the restored database in", { database: t.database, into: redactUrl(t.url) });
    await renamePair(c, t.database, previous, staging);
  } finally {
    await c.end().catch(() => {});
  }
}

export async function pgSettle(t: PgTarget, ctx: ProviderContext, want: RestoreSide): Promise<RestoreSide> {
  const { staging, previous } = names(ctx.token);
  const c = await admin(t);
  const drop = (db: string) =>
    c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`).then(() => {});
  try {
    const swapped = await exists(c, previous);
    const staged = await exists(c, staging);
    if (swapped && want === "old") {
      await renamePair(c, t.database, staging, previous);
      await drop(staging);
      return "old";
    }
    if (!swapped && staged && want === "new") {
      await renamePair(c, t.database, previous, staging);
      await drop(previous);
      return "new";
    }
    await drop(swapped ? previous : staging);
    // Nothing set aside: no swap ran (old), or the one-transaction fallback did (the caller knows).
    return swapped ? "new" : staged ? "old" : want;
  } finally {
    await c.end().catch(() => {});
  }
}
