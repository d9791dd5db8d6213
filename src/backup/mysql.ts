/**
 * MariaDB/MySQL: mariadb-dump --single-transaction of one database, gzip-compressed; restored
 * into a scratch schema and swapped in with one RENAME TABLE (mysql-restore.ts). The password goes through a 0600 defaults file in a private temp dir.
 * Row counts are read from the dump stream itself (the tuples of its INSERT statements), so they
 * describe exactly the snapshot that was dumped.
 */
import { Transform } from "node:stream";
import type { TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createReadStream } from "node:fs";
import { createGunzip, createGzip } from "node:zlib";
import { OperationFailed } from "../errors.js";
import { redactUrl, run } from "./exec.js";
import { credentials, type MyTarget, mysqlTool, optionFileValue, target } from "./mysql-common.js";
import { mysqlSettle, mysqlStage, mysqlSwap } from "./mysql-restore.js";
import type { BackupFacts, BackupProvider, CheckResult } from "./provider.js";
import { diffCounts } from "./provider.js";

export { mysqlTool, optionFileValue };

const enum S {
  Line,
  SkipLine,
  Values,
  Str,
  Esc,
}

const INSERT = /^INSERT INTO `((?:[^`]|``)+)` VALUES$/;
const CREATE = /^CREATE TABLE `((?:[^`]|``)+)` \($/;

/**
 * Counts the rows of each table in a mariadb-dump stream while passing it through: tables
 * from `CREATE TABLE` lines, rows from the top-level tuples of `INSERT INTO … VALUES`.
 */
export class DumpRowCounter extends Transform {
  readonly tables: Record<string, number> = {};
  private state = S.Line;
  private head = "";
  private table = "";
  private depth = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.scan(chunk);
    cb(null, chunk);
  }

  private scan(buf: Buffer): void {
    let { state, depth, head } = this;
    const tables = this.tables;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      switch (state) {
        case S.Line:
          // MySQL writes "INSERT INTO `t` VALUES (…" on one line, MariaDB 10.11 breaks after VALUES.
          if ((c === 10 || c === 32) && head.endsWith(" VALUES") && INSERT.test(head)) {
            this.table = INSERT.exec(head)![1].replace(/``/g, "`");
            tables[this.table] ??= 0;
            state = S.Values;
            depth = 0;
            head = "";
          } else if (c === 10) {
            const m = CREATE.exec(head);
            if (m) tables[m[1].replace(/``/g, "`")] ??= 0;
            head = "";
          } else if (head.length > 400) {
            state = S.SkipLine;
            head = "";
          } else head += String.fromCharCode(c);
          break;
        case S.SkipLine:
          if (c === 10) state = S.Line;
          break;
        case S.Values:
          if (c === 40) {
            if (depth === 0) tables[this.table]++;
            depth++;
          } else if (c === 41) depth--;
          else if (c === 39) state = S.Str;
          else if (c === 59 && depth === 0) state = S.SkipLine;
          break;
        case S.Str:
          if (c === 92) state = S.Esc;
          else if (c === 39) state = S.Values;
          break;
        case S.Esc:
          state = S.Str;
          break;
      }
    }
    this.state = state;
    this.depth = depth;
    this.head = head;
  }
}

async function countRows(t: MyTarget, database: string, cred: string): Promise<Record<string, number>> {
  const base = [cred, ...t.args, "-N", "-B"];
  const secrets = [t.password ?? ""];
  const list = await run(
    mysqlTool("client"),
    [
      ...base,
      "-e",
      `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${database.replace(/'/g, "''")}' ` +
        `AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
    ],
    { secrets },
  );
  const names = list.stdout.split("\n").filter(Boolean);
  if (!names.length) return {};
  const ident = (s: string) => `\`${s.replace(/`/g, "``")}\``;
  const sql = names.map((n) => `SELECT COUNT(*) FROM ${ident(database)}.${ident(n)}`).join(" UNION ALL ");
  const counts = await run(mysqlTool("client"), [...base, "-e", sql], { secrets });
  const values = counts.stdout.split("\n").filter(Boolean).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

export const mysqlProvider: BackupProvider = {
  type: "mysql",
  extension: "sql.gz",

  describe(config) {
    return config.url ? redactUrl(config.url) : "mysql";
  },

  async dump(config, sink: Writable, ctx): Promise<BackupFacts> {
    const t = target(config);
    const cred = credentials(t, ctx);
    const counter = new DumpRowCounter();
    const gzip = createGzip({ level: 6 });
    const piping = pipeline(counter, gzip, sink);
    await Promise.all([
      run(
        mysqlTool("dump"),
        [
          cred,
          ...t.args,
          "--single-transaction",
          "--routines",
          "--triggers",
          "--hex-blob",
          "--skip-dump-date",
          "--default-character-set=utf8mb4",
          t.database,
        ],
        { stdout: counter, secrets: [t.password ?? ""] },
      ),
      piping,
    ]);
    return { database: t.database, tables: counter.tables };
  },

  stage: (config, file, ctx) => mysqlStage(target(config), file, ctx),
  swap: (config, ctx) => mysqlSwap(target(config), ctx),
  settle: (config, ctx, want) => mysqlSettle(target(config), ctx, want),

  async check(config, file, facts, ctx): Promise<CheckResult> {
    const t = target(config);
    const cred = credentials(t, ctx);
    const scratch = `slipway_verify_${ctx.token}`;
    const secrets = [t.password ?? ""];
    try {
      await run(mysqlTool("client"), [cred, ...t.args, "-e", `CREATE DATABASE \`${scratch}\``], { secrets });
    } catch (e) {
      throw new OperationFailed(
        `cannot create the scratch database ${scratch} on ${t.display} (the backup user needs CREATE): ` +
          (e as Error).message,
      );
    }
    try {
      try {
        await run(mysqlTool("client"), [cred, ...t.args, "--default-character-set=utf8mb4", scratch], {
          stdin: createReadStream(file).pipe(createGunzip()),
          secrets,
        });
      } catch (e) {
        return {
          ok: false,
          detail: `loading the dump into a scratch database failed: ${(e as Error).message}`,
        };
      }
      const observed = await countRows(t, scratch, cred);
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
      await run(mysqlTool("client"), [cred, ...t.args, "-e", `DROP DATABASE IF EXISTS \`${scratch}\``], {
        secrets,
      }).catch((e: unknown) =>
        ctx.logger.warn("could not drop the scratch database", { database: scratch, error: String(e) }),
      );
    }
  },
};
