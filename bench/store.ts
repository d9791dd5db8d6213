/**
 * Store benchmark: what the engine pays per journal write, per revision and per status read,
 * on SQLite (default) and PostgreSQL, next to what a runbook script would do instead
 * (append a JSON line to a history file) and to raw driver calls (our layer's overhead).
 *
 *   npx tsx bench/store.ts            (add --no-postgres to skip the PostgreSQL part)
 */
import Database from "better-sqlite3";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { Revision, Store } from "../src/store/store.js";
import { startPostgres } from "../test/support/postgres.js";

type NewRevision = Omit<Revision, "number" | "createdAt">;

// A snapshot the size of a real resolved spec (~6 KB of JSON).
const snapshot = {
  project: "runbook-api",
  services: Object.fromEntries(
    Array.from({ length: 8 }, (_, i) => [
      `svc${i}`,
      {
        image: `registry.example.com/svc${i}:\${VERSION}`,
        env: Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`VAR_${j}`, `\${SECRET_${j}}`])),
        health: { http: "/health", interval: 2000, timeout: 2000 },
        rollout: { strategy: "canary", steps: [{ weight: 10 }, { weight: 50 }] },
      },
    ]),
  ),
};
const rev = (i: number): NewRevision => ({
  project: "bench",
  env: "staging",
  version: `v${i}`,
  status: "deployed",
  snapshot,
  services: ["api", "web"],
  actor: "bench",
  description: `deploy v${i}`,
  skipChecks: false,
  facts: {},
});
const step = (revision: number, seq: number) => ({
  project: "bench",
  env: "staging",
  revision,
  seq,
  kind: "start-candidate",
  service: "api",
  description: `step ${seq}`,
  status: "ok" as const,
  startedAt: new Date().toISOString(),
  durationMs: 12,
});

async function time(label: string, n: number, fn: (i: number) => unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`  ${label.padEnd(52)} ${us.toFixed(1).padStart(9)} µs/op  (n=${n})`);
  return us;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function storeOps(store: Store, n: { revs: number; steps: number; reads: number }): Promise<void> {
  await time("createRevision (6 KB snapshot)", n.revs, (i) => store.createRevision(rev(i)));
  await time("journalAppend", n.steps, (i) => store.journalAppend(step(1, i)));
  await time("journalUpdate", n.steps, (i) =>
    store.journalUpdate("bench", "staging", 1, i, { status: "ok" }),
  );
  await time("addEvent", n.steps, (i) =>
    store.addEvent({
      project: "bench",
      env: "staging",
      time: new Date().toISOString(),
      kind: "step",
      severity: "info",
      message: `e${i}`,
    }),
  );
  await time("currentRevision", n.reads, () => store.currentRevision("bench", "staging"));
  await time("listRevisions limit 20 (history)", n.reads, () =>
    store.listRevisions("bench", "staging", { limit: 20 }),
  );
  await time("acquireLock + releaseLock", n.reads, async (i) => {
    await store.acquireLock({
      project: "bench",
      env: "staging",
      holder: `h${i}`,
      operation: "deploy",
      pid: 1,
      acquiredAt: new Date().toISOString(),
    });
    await store.releaseLock("bench", "staging", `h${i}`);
  });
}

const dir = mkdtempSync(join(tmpdir(), "slipway-bench-store-"));
try {
  console.log(`Store benchmark — ${new Date().toISOString()} — node ${process.version}`);

  console.log("\nSQLite (SqliteStore, WAL, synchronous=NORMAL)");
  const opens: number[] = [];
  let t0 = performance.now();
  const first = SqliteStore.open({ home: join(dir, "sqlite") });
  console.log(
    `  first open (create file + migrate)                   ${(performance.now() - t0).toFixed(2)} ms`,
  );
  await first.close();
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    const s = SqliteStore.open({ home: join(dir, "sqlite") });
    opens.push(performance.now() - t0);
    await s.close();
  }
  console.log(`  re-open (already migrated), median of 20             ${median(opens).toFixed(2)} ms`);
  const sqlite = SqliteStore.open({ home: join(dir, "sqlite") });
  await storeOps(sqlite, { revs: 2000, steps: 5000, reads: 2000 });
  await sqlite.close();

  console.log("\nBaselines");
  const raw = new Database(join(dir, "raw.db"));
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = NORMAL");
  raw.exec(
    `CREATE TABLE revisions (project TEXT, env TEXT, number INTEGER, data TEXT, PRIMARY KEY (project, env, number))`,
  );
  const ins = raw.prepare(`INSERT INTO revisions VALUES ('bench', 'staging', ?, ?)`);
  await time("raw better-sqlite3 INSERT (same snapshot, no numbering)", 2000, (i) =>
    ins.run(i + 1, JSON.stringify(rev(i))),
  );
  raw.close();
  const history = join(dir, "deploy-history.jsonl");
  await time("script habit: appendFileSync JSON line to history", 2000, (i) =>
    appendFileSync(history, JSON.stringify({ ...rev(i), number: i + 1 }) + "\n"),
  );
  await time("script habit: read whole history file, take last", 200, () => {
    const lines = readFileSync(history, "utf8").trimEnd().split("\n");
    return JSON.parse(lines[lines.length - 1]) as unknown;
  });

  if (!process.argv.includes("--no-postgres")) {
    console.log("\nPostgreSQL 15 (PostgresStore, local server, fsync=off)");
    const server = await startPostgres();
    try {
      t0 = performance.now();
      const pgStore = await PostgresStore.open({ url: server.url });
      console.log(
        `  first open (connect + migrate)                       ${(performance.now() - t0).toFixed(2)} ms`,
      );
      await storeOps(pgStore, { revs: 500, steps: 1000, reads: 1000 });
      await pgStore.close();
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      await client.query(`CREATE TABLE raw_revisions (number int PRIMARY KEY, data jsonb)`);
      await time("raw pg INSERT (same snapshot, no numbering)", 500, (i) =>
        client.query(`INSERT INTO raw_revisions VALUES ($1, $2)`, [i + 1, JSON.stringify(rev(i))]),
      );
      await client.end();
    } finally {
      await server.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
