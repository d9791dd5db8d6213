/** What the MariaDB/MySQL provider's backup, check and restore share: the target, credentials, tools. */
import { existsSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { OperationFailed } from "../errors.js";
import { backupUrl, redactUrl, run } from "./exec.js";
import type { BackupConfig, ProviderContext } from "./provider.js";

function onPath(name: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, name)));
}

/** mariadb-dump / mariadb, falling back to the MySQL names. */
export function mysqlTool(kind: "dump" | "client"): string {
  const [a, b] = kind === "dump" ? ["mariadb-dump", "mysqldump"] : ["mariadb", "mysql"];
  return onPath(a) || !onPath(b) ? a : b;
}

export interface MyTarget {
  args: string[];
  password?: string;
  user: string;
  database: string;
  display: string;
}

export function target(config: BackupConfig): MyTarget {
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
export function credentials(t: MyTarget, ctx: ProviderContext): string {
  const file = join(ctx.workDir, "client.cnf");
  const lines = ["[client]", `user=${optionFileValue(t.user)}`];
  if (t.password !== undefined) lines.push(`password=${optionFileValue(t.password)}`);
  writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  return `--defaults-extra-file=${file}`;
}

/** Run one SQL text with the client (-N -B: tab-separated rows without a header). */
export async function mysqlQuery(t: MyTarget, cred: string, sql: string): Promise<string[][]> {
  const r = await run(mysqlTool("client"), [cred, ...t.args, "-N", "-B", "-e", sql], {
    secrets: [t.password ?? ""],
  });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t"));
}

/** A backquoted identifier. */
export const ident = (s: string) => `\`${s.replace(/`/g, "``")}\``;
/** A quoted string literal. */
export const literal = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
