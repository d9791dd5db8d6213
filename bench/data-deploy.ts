/**
 * What a data-aware deploy costs: `slipway deploy` with `backup: { before: deploy }` (the backup
 * is a step of the deploy, recorded in the revision) against what the runbooks script instead —
 * `pg_dump -Fc -f FILE && slipway deploy` with no backup block; and `slipway restore --yes`
 * against `pg_restore --clean --if-exists --single-transaction`. Same PostgreSQL database, same
 * run, alternating which side goes first. The real CLI (`bin/slipway.js --in-process`, so each
 * figure includes a Node start) — run `npm run build` first.
 *
 *   npx tsx bench/data-deploy.ts [--mb 40] [--rounds 3]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { pgTool } from "../src/backup/postgres.js";
import { startPostgres } from "../test/support/postgres.js";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const targetMb = arg("mb", 40);
const rounds = arg("rounds", 3);
const BIN = resolve(import.meta.dirname, "..", "bin", "slipway.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(" ")} failed: ${r.stderr || r.stdout}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const server = await startPostgres();
const work = mkdtempSync(join(tmpdir(), "slipway-bench-data-"));
try {
  const url = server.url.replace(/\/postgres$/, "/benchdb");
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("CREATE DATABASE benchdb");
  await admin.end();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const n = Math.round(200_000 * (targetMb / 40));
  await c.query(`CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint, amount numeric(12,2), note text);
    INSERT INTO orders SELECT g, g % 5000, (g % 10000) / 7.0, md5(g::text) || md5((g * 7)::text)
    FROM generate_series(1, ${n}) g`);
  await c.query("VACUUM ANALYZE");
  const size = Number((await c.query<{ s: string }>("SELECT pg_database_size('benchdb') AS s")).rows[0].s);
  await c.end();
  const mb = size / 1024 / 1024;
  console.log(`generated benchdb: ${mb.toFixed(0)} MB (${n} rows)`);

  // Two projects, identical but for the backup block: a worker stands in for the app.
  const project = (name: string, backup: boolean) => {
    const dir = join(work, name);
    mkdirSync(join(dir, "app"), { recursive: true });
    writeFileSync(
      join(dir, "app", "w.js"),
      'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(0));',
    );
    writeFileSync(
      join(dir, "slipway.yaml"),
      `project: ${name}
environments:
  bench: { target: process }
services:
  app:
    run: node w.js
    path: ./app
    env: { RELEASE: "\${VERSION}" }
    stop: { grace: 2s }
${backup ? `    backup: { type: postgres, url: "\${DATABASE_URL}", before: deploy }\n` : ""}`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLIPWAY_HOME: join(dir, "home"),
      DATABASE_URL: url,
      NO_COLOR: "1",
    };
    delete env.SLIPWAY_DATABASE_URL;
    const cli = (...a: string[]) =>
      run(process.execPath, [BIN, "-f", join(dir, "slipway.yaml"), "--in-process", ...a], env);
    return { dir, cli };
  };
  const slip = project("withbackup", true);
  const raw = project("scripted", false);
  slip.cli("deploy", "bench", "--version", "v0");
  raw.cli("deploy", "bench", "--version", "v0");

  const t = {
    slipDeploy: [] as number[],
    rawDeploy: [] as number[],
    slipRestore: [] as number[],
    rawRestore: [] as number[],
  };
  const rawFile = join(work, "raw.pgdump");
  for (let i = 1; i <= rounds; i++) {
    const slipSide = () => t.slipDeploy.push(slip.cli("deploy", "bench", "--version", `v${i}`));
    const rawSide = () =>
      t.rawDeploy.push(
        run(pgTool("pg_dump"), ["-Fc", `--dbname=${url}`, "-f", rawFile]) +
          raw.cli("deploy", "bench", "--version", `v${i}`),
      );
    if (i % 2) {
      slipSide();
      rawSide();
    } else {
      rawSide();
      slipSide();
    }
    const lastId = (): string => {
      const r = spawnSync(
        process.execPath,
        [BIN, "-f", join(slip.dir, "slipway.yaml"), "--in-process", "backups", "bench", "--json"],
        {
          encoding: "utf8",
          env: { ...process.env, SLIPWAY_HOME: join(slip.dir, "home"), DATABASE_URL: url },
        },
      );
      return (JSON.parse(r.stdout) as { result: { backups: { id: string }[] } }).result.backups[0].id;
    };
    const id = lastId();
    const slipRestore = () => t.slipRestore.push(slip.cli("restore", "bench", id, "--yes"));
    const rawRestore = () =>
      t.rawRestore.push(
        run(pgTool("pg_restore"), [
          "--clean",
          "--if-exists",
          "--single-transaction",
          "--exit-on-error",
          `--dbname=${url}`,
          rawFile,
        ]),
      );
    if (i % 2) {
      slipRestore();
      rawRestore();
    } else {
      rawRestore();
      slipRestore();
    }
    console.log(
      `round ${i}: deploy+backup slipway ${t.slipDeploy.at(-1)!.toFixed(2)} s / scripted ${t.rawDeploy.at(-1)!.toFixed(2)} s; ` +
        `restore slipway ${t.slipRestore.at(-1)!.toFixed(2)} s / pg_restore ${t.rawRestore.at(-1)!.toFixed(2)} s`,
    );
  }
  slip.cli("destroy", "bench", "--yes");
  raw.cli("destroy", "bench", "--yes");

  const row = (what: string, s: number, r: number, rawName: string) => {
    const over = ((s - r) / r) * 100;
    console.log(
      `${what.padEnd(16)} slipway ${s.toFixed(2)} s   ${rawName} ${r.toFixed(2)} s   difference ${over >= 0 ? "+" : ""}${over.toFixed(1)} %`,
    );
  };
  console.log(
    `\nPostgreSQL ${mb.toFixed(0)} MB, median of ${rounds} rounds, wall time of the whole command(s):`,
  );
  row(
    "deploy + backup",
    median(t.slipDeploy),
    median(t.rawDeploy),
    "pg_dump -Fc && slipway deploy (no backup block)",
  );
  row("restore", median(t.slipRestore), median(t.rawRestore), "pg_restore --clean --single-transaction");
  console.log(
    "slipway's backup step adds row counts in the dump's snapshot, sha256, fsync and a catalog row, and records the id in the revision;\n" +
      "its restore adds a Node start (~0.3 s with NODE_EXTRA_CA_CERTS), the spec, the environment lock and a checksum check.",
  );
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
