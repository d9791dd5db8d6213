/**
 * Backup and restore of a generated PostgreSQL database (≥ 200 MB): Slipway's BackupManager
 * against the raw tools a user would script instead (`pg_dump -Fc` to a file, then
 * `pg_restore --clean --if-exists --single-transaction --exit-on-error`), on the same data in
 * the same run, alternating the two so neither gets a warmer cache.
 *
 *   npx tsx bench/backup-postgres.ts [--mb 200] [--rounds 3]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { BackupManager } from "../src/backup/index.js";
import { pgTool } from "../src/backup/postgres.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { startPostgres } from "../test/support/postgres.js";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const targetMb = arg("mb", 200);
const rounds = arg("rounds", 3);

function time(fn: () => unknown): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}
async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}
function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const server = await startPostgres();
const work = mkdtempSync(join(tmpdir(), "slipway-bench-backup-"));
try {
  const url = server.url.replace(/\/postgres$/, "/benchdb");
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("CREATE DATABASE benchdb");
  await admin.end();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`
    CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, created timestamptz);
    CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint, amount numeric(12,2), note text, created timestamptz);
    CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb);
    CREATE INDEX ON orders (customer);`);
  // ~215 MB with indexes at the default size: 720 k orders, 120 k customers, 240 k events.
  const scale = targetMb / 200;
  const t0 = Date.now();
  await c.query(`INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com',
                 now() - (g || ' minutes')::interval FROM generate_series(1, ${Math.round(120_000 * scale)}) g`);
  await c.query(`INSERT INTO orders SELECT g, 1 + g % ${Math.round(120_000 * scale)}, (g % 10000) / 7.0,
                 md5(g::text) || md5((g * 7)::text), now() - (g || ' seconds')::interval
                 FROM generate_series(1, ${Math.round(1_120_000 * scale)}) g`);
  await c.query(`INSERT INTO events SELECT g, CASE g % 3 WHEN 0 THEN 'click' WHEN 1 THEN 'view' ELSE 'buy' END,
                 jsonb_build_object('n', g, 'tag', md5(g::text), 'items', jsonb_build_array(g, g + 1, g + 2))
                 FROM generate_series(1, ${Math.round(240_000 * scale)}) g`);
  await c.query("VACUUM ANALYZE");
  const size = Number((await c.query<{ s: string }>("SELECT pg_database_size('benchdb') AS s")).rows[0].s);
  await c.end();
  const mb = size / 1024 / 1024;
  console.log(`generated benchdb: ${mb.toFixed(0)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (mb < targetMb) console.log(`warning: database is smaller than the ${targetMb} MB asked for`);

  const store = SqliteStore.open({ home: join(work, "state") });
  const manager = new BackupManager({ store, home: work });
  const raw = { dump: [] as number[], restore: [] as number[] };
  const slip = { dump: [] as number[], restore: [] as number[] };
  let dumpBytes = 0;
  const rawFile = join(work, "raw.pgdump");
  const env = { project: "bench", env: "bench", service: "db" };
  for (let i = 0; i < rounds; i++) {
    let id = "";
    const rawDump = () =>
      raw.dump.push(time(() => sh(pgTool("pg_dump"), ["-Fc", `--dbname=${url}`, "-f", rawFile])));
    const slipDump = async () =>
      slip.dump.push(
        await timeAsync(async () => {
          id = (await manager.backup({ ...env, config: { type: "postgres", url } })).id;
        }),
      );
    const rawRestore = () =>
      raw.restore.push(
        time(() =>
          sh(pgTool("pg_restore"), [
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            `--dbname=${url}`,
            rawFile,
          ]),
        ),
      );
    const slipRestore = async () => slip.restore.push(await timeAsync(() => manager.restore(id)));
    // Alternate who goes first, so neither side always meets a warmer cache.
    if (i % 2 === 0) {
      rawDump();
      await slipDump();
      rawRestore();
      await slipRestore();
    } else {
      await slipDump();
      rawDump();
      await slipRestore();
      rawRestore();
    }
    dumpBytes = statSync(rawFile).size;
    console.log(
      `round ${i + 1}: dump raw ${raw.dump[i].toFixed(2)} s / slipway ${slip.dump[i].toFixed(2)} s; ` +
        `restore raw ${raw.restore[i].toFixed(2)} s / slipway ${slip.restore[i].toFixed(2)} s`,
    );
  }
  await store.close();

  const row = (what: string, r: number, s: number) => {
    const over = ((s - r) / r) * 100;
    console.log(
      `${what.padEnd(8)} raw ${r.toFixed(2)} s (${(mb / r).toFixed(1)} MB/s)   slipway ${s.toFixed(2)} s ` +
        `(${(mb / s).toFixed(1)} MB/s)   overhead ${over >= 0 ? "+" : ""}${over.toFixed(1)} %  ${over <= 10 ? "(goal ≤ 10 %: met)" : "(goal ≤ 10 %: NOT met)"}`,
    );
  };
  console.log(
    `\nPostgreSQL ${mb.toFixed(0)} MB database, custom-format dump ${(dumpBytes / 1024 / 1024).toFixed(0)} MB, ` +
      `median of ${rounds} rounds (MB/s = database size / time):`,
  );
  row("backup", median(raw.dump), median(slip.dump));
  row("restore", median(raw.restore), median(slip.restore));
  console.log(
    "slipway backup = pg_dump -Fc in an exported snapshot + exact row counts + sha256 + catalog row; " +
      "slipway restore = sha256 check + the same pg_restore.",
  );
} finally {
  rmSync(work, { recursive: true, force: true });
  await server.stop();
}
