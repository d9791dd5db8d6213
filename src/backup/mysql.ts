/**
 * MariaDB/MySQL: mariadb-dump --single-transaction of one database, gzip-compressed; restored
 * with the mariadb client. The password goes through a 0600 defaults file in a private temp dir.
 * Row counts are read from the dump stream itself (the tuples of its INSERT statements), so they
 * describe exactly the snapshot that was dumped.
 */
import { existsSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { Transform } from "node:stream";
import type { TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createReadStream } from "node:fs";
import { createGunzip, createGzip } from "node:zlib";
import { OperationFailed } from "../errors.js";
import { backupUrl, redactUrl, run } from "./exec.js";
import type { BackupConfig, BackupFacts, BackupProvider, CheckResult, ProviderContext } from "./provider.js";
import { diffCounts } from "./provider.js";

function onPath(name: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, name)));
}

/** mariadb-dump / mariadb, falling back to the MySQL names. */
export function mysqlTool(kind: "dump" | "client"): string {
  const [a, b] = kind === "dump" ? ["mariadb-dump", "mysqldump"] : ["mariadb", "mysql"];
  return onPath(a) || !onPath(b) ? a : b;
}

interface MyTarget {
  args: string[];
  password?: string;
  user: string;
  database: string;
  display: string;
}

function target(config: BackupConfig): MyTarget {
  const { u, url } = backupUrl("mysql", config.url, ["mysql:", "mariadb:"]);
  const database = decodeURIComponent(u.pathname.slice(1));
  if (!database)
    throw new OperationFailed(
      `mysql backup: the url must name a database (mysql://user@host/DATABASE), got ${redactUrl(url)}`,
    );
  const socket = u.searchParams.get("socket");
  const args = socket
    ? [`--socket=${socket}`]
    : [`--host=${u.hostname || "127.0.0.1"}`, `--port=${u.port || "3306"}`, "--protocol=TCP"];
  return {
    args,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    user: decodeURIComponent(u.username) || "root",
    database,
    display: redactUrl(url),
  };
}

const OPTION_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
};

/**
 * A value of a MySQL/MariaDB option file, double-quoted with the escapes the option-file reader
 * undoes (\\ \" \n \r \t \b): a newline in a password must not end the line, or the rest of the
 * value would be read as another option (host=…, a plugin-dir …).
 */
export function optionFileValue(s: string): string {
  if (s.includes("\0"))
    throw new OperationFailed("mysql backup: a NUL character cannot be given in an option file");
  return `"${s.replace(/[\\"\n\r\t\b]/g, (c) => OPTION_ESCAPES[c] as string)}"`;
}

/** Writes the 0600 option file the tools read credentials from; returns the first argv item. */
function credentials(t: MyTarget, ctx: ProviderContext): string {
  const file = join(ctx.workDir, "client.cnf");
  const lines = ["[client]", `user=${optionFileValue(t.user)}`];
  if (t.password !== undefined) lines.push(`password=${optionFileValue(t.password)}`);
  writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  return `--defaults-extra-file=${file}`;
}

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

  async restore(config, file, ctx) {
    const t = target(config);
    const cred = credentials(t, ctx);
    ctx.logger.info("mariadb restore", { into: t.display });
    await run(mysqlTool("client"), [cred, ...t.args, "--default-character-set=utf8mb4", t.database], {
      stdin: createReadStream(file).pipe(createGunzip()),
      secrets: [t.password ?? ""],
    });
  },

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
