/**
 * MariaDB/MySQL restores, staged: the dump is loaded into a scratch schema
 * `slipway_restore_<token>`; the swap is one RENAME TABLE statement (atomic in MariaDB and
 * MySQL) moving every live table to `slipway_prev_<token>` and every restored one into the live
 * schema, with a marker table moved along so a later look can tell whether it ran.
 *
 * Views, triggers and stored routines cannot move between schemas with RENAME TABLE: a dump that
 * holds any (or a live schema that does) is loaded in place as before, not atomically (the
 * logger says so; docs/backups.md too).
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { run } from "./exec.js";
import { credentials, ident, literal, type MyTarget, mysqlQuery, mysqlTool } from "./mysql-common.js";
import type { ProviderContext, RestoreSide } from "./provider.js";

const MARKER = "slipway_restore_marker";
const names = (token: string) => ({ staging: `slipway_restore_${token}`, previous: `slipway_prev_${token}` });

async function schemaExists(t: MyTarget, cred: string, db: string): Promise<boolean> {
  const r = await mysqlQuery(
    t,
    cred,
    `SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(db)}`,
  );
  return r.length > 0;
}

async function tables(t: MyTarget, cred: string, db: string): Promise<string[]> {
  const r = await mysqlQuery(
    t,
    cred,
    `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(db)} AND TABLE_TYPE = 'BASE TABLE'`,
  );
  return r.map((row) => row[0]).filter((n) => n !== MARKER);
}

/** Views, triggers and routines of a schema: what RENAME TABLE cannot carry. */
async function otherObjects(t: MyTarget, cred: string, db: string): Promise<number> {
  const q = (table: string, col: string) =>
    `(SELECT COUNT(*) FROM information_schema.${table} WHERE ${col} = ${literal(db)})`;
  const r = await mysqlQuery(
    t,
    cred,
    `SELECT ${q("VIEWS", "TABLE_SCHEMA")} + ${q("TRIGGERS", "TRIGGER_SCHEMA")} + ${q("ROUTINES", "ROUTINE_SCHEMA")}`,
  );
  return Number(r[0]?.[0] ?? 0);
}

function load(t: MyTarget, cred: string, db: string, file: string) {
  return run(mysqlTool("client"), [cred, ...t.args, "--default-character-set=utf8mb4", db], {
    stdin: createReadStream(file).pipe(createGunzip()),
    secrets: [t.password ?? ""],
  });
}

async function createLike(t: MyTarget, cred: string, db: string): Promise<void> {
  const [row] = await mysqlQuery(
    t,
    cred,
    `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(t.database)}`,
  );
  const opts = row ? ` CHARACTER SET ${row[0]} COLLATE ${row[1]}` : "";
  await mysqlQuery(t, cred, `CREATE DATABASE IF NOT EXISTS ${ident(db)}${opts}`);
}

export async function mysqlStage(t: MyTarget, file: string, ctx: ProviderContext): Promise<void> {
  const cred = credentials(t, ctx);
  const { staging } = names(ctx.token);
  await createLike(t, cred, staging);
  await load(t, cred, staging, file);
  if ((await otherObjects(t, cred, staging)) + (await otherObjects(t, cred, t.database)) > 0) {
    ctx.logger.warn("views, triggers or routines: the restore loads the dump in place (not atomic)", {
      database: t.database,
    });
    await mysqlQuery(t, cred, `DROP DATABASE IF EXISTS ${ident(staging)}`);
    return;
  }
  await mysqlQuery(t, cred, `CREATE TABLE ${ident(staging)}.${ident(MARKER)} (token varchar(64))`);
}

/** One RENAME TABLE: `out` tables of `live` to `aside`, `in` tables of `from` to `live`, the marker along. */
function renameAll(
  live: string,
  aside: string,
  from: string,
  out: string[],
  inn: string[],
  marker: [string, string],
) {
  const pairs = [
    `${ident(marker[0])}.${ident(MARKER)} TO ${ident(marker[1])}.${ident(MARKER)}`,
    ...out.map((n) => `${ident(live)}.${ident(n)} TO ${ident(aside)}.${ident(n)}`),
    ...inn.map((n) => `${ident(from)}.${ident(n)} TO ${ident(live)}.${ident(n)}`),
  ];
  return `RENAME TABLE ${pairs.join(", ")}`;
}

export async function mysqlSwap(t: MyTarget, ctx: ProviderContext): Promise<void> {
  const cred = credentials(t, ctx);
  const { staging, previous } = names(ctx.token);
  if (!(await schemaExists(t, cred, staging))) {
    if (!ctx.file) throw new Error("nothing was staged and no backup file is at hand");
    await load(t, cred, t.database, ctx.file);
    return;
  }
  await createLike(t, cred, previous);
  const live = await tables(t, cred, t.database);
  const restored = await tables(t, cred, staging);
  ctx.logger.info("swapping the restored tables in", { database: t.database, tables: restored.length });
  await mysqlQuery(t, cred, renameAll(t.database, previous, staging, live, restored, [staging, previous]));
}

export async function mysqlSettle(
  t: MyTarget,
  ctx: ProviderContext,
  want: RestoreSide,
): Promise<RestoreSide> {
  const cred = credentials(t, ctx);
  const { staging, previous } = names(ctx.token);
  const hasMarker = async (db: string) =>
    (
      await mysqlQuery(
        t,
        cred,
        `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(db)} AND TABLE_NAME = '${MARKER}'`,
      )
    ).length > 0;
  const swapped = await hasMarker(previous);
  const staged = !swapped && (await hasMarker(staging));
  // Neither: nothing was staged, or the in-place fallback ran; the caller's journal tells which.
  let side: RestoreSide = swapped ? "new" : staged ? "old" : want;
  if (swapped && want === "old") {
    await createLike(t, cred, staging);
    const now = await tables(t, cred, t.database);
    const before = await tables(t, cred, previous);
    await mysqlQuery(t, cred, renameAll(t.database, staging, previous, now, before, [previous, staging]));
    side = "old";
  } else if (staged && want === "new") {
    await mysqlSwap(t, ctx);
    side = "new";
  }
  for (const db of [staging, previous]) await mysqlQuery(t, cred, `DROP DATABASE IF EXISTS ${ident(db)}`);
  return side;
}
