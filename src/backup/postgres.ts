/**
 * PostgreSQL: pg_dump custom format. A restore loads it into a scratch database beside the live
 * one and swaps the two by renaming them in one transaction (pg-restore.ts); without the right
 * to create a database it falls back to pg_restore --clean in one transaction. Row counts are taken in the very snapshot pg_dump dumps (pg_export_snapshot +
 * pg_dump --snapshot), so verify can compare them exactly even while the database is written to.
 */
import type { Writable } from "node:stream";
import { OperationFailed } from "../errors.js";
import { redactUrl, run } from "./exec.js";
import { connect, pgTool, rowCounts, target, toolEnv, withDatabase } from "./pg-common.js";
import type { BackupFacts, BackupProvider, CheckResult, ProviderContext } from "./provider.js";
import { diffCounts } from "./provider.js";
import { pgSettle, pgStage, pgSwap } from "./pg-restore.js";

export { pgTool };

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

  stage: (config, file, ctx) => pgStage(target(config), file, ctx),
  swap: (config, ctx) => pgSwap(target(config), ctx),
  settle: (config, ctx, want) => pgSettle(target(config), ctx, want),

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
