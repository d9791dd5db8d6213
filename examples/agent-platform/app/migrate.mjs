// The stand-in's database_migration.py: the same flags as the runbook's
//   --migrate-up             apply every pending migration (migrations/NNNN_name.up.sql)
//   --migrate-down --target=N  undo the migrations above N (default: the last one)
//   --status                 applied and pending migrations
// Each migration runs in one transaction with its row in schema_migrations.
// MIGRATE_TO (set by `slipway migrate ENV down --to N`) is the same as --target=N.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "./pg-mini.mjs";

const dir = join(dirname(fileURLToPath(import.meta.url)), "migrations");
const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const target = args.find((a) => a.startsWith("--target="))?.slice(9) || process.env.MIGRATE_TO || "";

const migrations = readdirSync(dir)
  .map((f) => /^(\d+)_(.+)\.up\.sql$/.exec(f))
  .filter(Boolean)
  .map((m) => ({ n: Number(m[1]), name: m[2], file: m[0] }))
  .sort((a, b) => a.n - b.n);

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set");
  process.exit(2);
}
const db = await connect(url).catch((e) => {
  console.error(`cannot connect to the database: ${e.message}`);
  process.exit(1);
});
try {
  await db.query(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
  );
  const applied = new Set(
    (await db.query("SELECT version FROM schema_migrations")).map((r) => Number(r.version)),
  );
  if (flag("--migrate-up")) {
    const pending = migrations.filter((m) => !applied.has(m.n));
    for (const m of pending) {
      const sql = readFileSync(join(dir, m.file), "utf8");
      await db.query(
        `BEGIN; ${sql}; INSERT INTO schema_migrations (version, name) VALUES (${m.n}, '${m.name}'); COMMIT;`,
      );
      console.log(`applied ${m.n} ${m.name}`);
    }
    if (!pending.length) console.log("up to date");
  } else if (flag("--migrate-down")) {
    const done = migrations.filter((m) => applied.has(m.n)).reverse();
    const to = target === "" ? (done[1]?.n ?? 0) : Number(target);
    if (!Number.isInteger(to)) throw new Error(`--target must be a migration number, not "${target}"`);
    for (const m of done.filter((x) => x.n > to)) {
      const sql = readFileSync(join(dir, m.file.replace(".up.sql", ".down.sql")), "utf8");
      await db.query(`BEGIN; ${sql}; DELETE FROM schema_migrations WHERE version = ${m.n}; COMMIT;`);
      console.log(`reverted ${m.n} ${m.name}`);
    }
  } else if (flag("--status")) {
    for (const m of migrations) console.log(`${applied.has(m.n) ? "applied" : "pending"} ${m.n} ${m.name}`);
  } else {
    console.error("usage: migrate.mjs --migrate-up | --migrate-down [--target=N] | --status");
    process.exitCode = 2;
  }
} catch (e) {
  console.error(`migration failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  db.end();
}
