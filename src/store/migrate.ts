/**
 * Versioned SQL migrations: files named NNNN_name.sql in a folder next to the compiled code
 * (scripts/copy-assets.js copies them to dist/). Each implementation applies them in order,
 * one transaction each, and records them in `schema_migrations`.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StoreError } from "./errors.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** `dialect` is the folder under store/migrations/ ("sqlite" or "postgres"). */
export function loadMigrations(dialect: "sqlite" | "postgres"): Migration[] {
  const dir = fileURLToPath(new URL(`./migrations/${dialect}/`, import.meta.url));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new StoreError(
      `store migrations not found in ${dir} (${(e as Error).message}); is the build complete?`,
    );
  }
  const out: Migration[] = [];
  for (const file of names) {
    if (!file.endsWith(".sql")) continue;
    const m = FILE_RE.exec(file);
    if (!m) throw new StoreError(`badly named migration ${dir}${file}: expected NNNN_name.sql`);
    out.push({ version: Number(m[1]), name: m[2], sql: readFileSync(`${dir}${file}`, "utf8") });
  }
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError(`store migrations in ${dir} must be numbered 0001, 0002, … without gaps`);
    }
  });
  return out;
}

export function newerSchemaError(where: string, dbVersion: number, codeVersion: number): StoreError {
  return new StoreError(
    `the store at ${where} has schema version ${dbVersion}, but this Slipway only knows up to ` +
      `${codeVersion}: it was written by a newer Slipway. Upgrade Slipway, or point ` +
      `SLIPWAY_HOME / SLIPWAY_DATABASE_URL at another store.`,
  );
}
