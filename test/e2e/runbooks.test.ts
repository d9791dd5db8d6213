/**
 * Runbooks end to end (issue 13, item 2): the real CLI and daemon, a real app, and a real
 * PostgreSQL 15 whose backups are taken, verified and restored into a scratch database. Reports
 * go to history (the store's events) and to their channel (a webhook receiver); a failed run
 * alerts; the scheduler runs a runbook from `schedules:`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startPostgres, type PgServer } from "../support/postgres.js";
import { waitFor } from "../support/ports.js";
import { startHttpReceiver, type HttpReceiver } from "../support/receivers.js";
import { apiOnlySpec, makeProject, type Project } from "./harness.js";

interface StepJson {
  name: string;
  kind: string;
  status: string;
  evidence: string;
}
interface ReportJson {
  runbook: string;
  status: string;
  trigger: string;
  steps: StepJson[];
}

let db: PgServer;
let client: pg.Client;
let p: Project;
let hooks: HttpReceiver;

beforeAll(async () => {
  db = await startPostgres();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
    INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 500) g;`);
  hooks = await startHttpReceiver();
  p = await makeProject();
  writeFileSync(
    p.file,
    apiOnlySpec(p.ports.api, {
      env: "X: y",
      rollout: "drainTimeout: 1s, keepWarm: 0s",
      rest: `  data:
    run: node worker.js
    path: ./app
    env: { DATABASE_URL: "\${DATABASE_URL}" }
    backup: { type: postgres, url: "\${DATABASE_URL}", retention: { keepLast: 2 } }
analysis: { metrics: [] }
checks:
  - { name: disk, resources: { disk: { max: 99.9% } } }
  - { name: db, postgres: "\${DATABASE_URL}" }
  - { name: tests, command: "exit 1" }
alerts:
  channels:
    hooks: { type: webhook, url: "${hooks.url}/hook" }
    ops: { type: webhook, url: "${hooks.url}/ops" }
  routes: [ { match: { severity: [critical, warning] }, receivers: [hooks] } ]
  groupWait: 100ms
  groupInterval: 200ms
runbooks:
  daily:
    steps: [ { check: [disk, db] }, { health: all }, { backup: data }, { backupVerify: latest } ]
    report: ops
  monthly:
    steps: [ { restoreTest: data }, { retention: data }, { name: audit, command: "echo 2 vulnerabilities; exit 3" }, { command: "echo still runs" } ]
  strict:
    stopOnFailure: true
    steps: [ { check: tests }, { command: "echo never" } ]
  tick: { steps: [ { command: "date >> ticks.txt" } ] }
schedules:
  - { name: ticker, cron: "*/2 * * * * *", run: runbook, runbook: tick }
`,
    }),
  );
}, 120_000);

afterAll(async () => {
  await p?.cleanup();
  await client?.end();
  await db?.stop();
  await hooks?.close();
});

const env = () => ({ DATABASE_URL: db.url });
const posted = (path: string) =>
  hooks.requests
    .filter((r) => r.path === path)
    .flatMap(
      (r) => (JSON.parse(r.body) as { alerts: { labels: Record<string, string>; status: string }[] }).alerts,
    );

describe("runbooks", () => {
  it("run their steps against a real PostgreSQL, report to history and their channel, alert on failure", async () => {
    const d = p.cli(["deploy", "development", "--version", "v1", "--skip-checks"], { env: env() });
    expect(d.code, d.stderr).toBe(0);

    const daily = p.cli(["run", "development", "daily", "--json"], { env: env() });
    expect(daily.code, daily.stdout + daily.stderr).toBe(0);
    const dr = daily.json<{ ok: boolean; result: ReportJson }>().result;
    expect(dr.status).toBe("passed");
    expect(dr.steps.map((s) => [s.kind, s.status])).toEqual([
      ["check", "passed"],
      ["health", "passed"],
      ["backup", "passed"],
      ["backupVerify", "passed"],
    ]);
    expect(dr.steps[0].evidence).toMatch(/passed disk[\s\S]*passed db/);
    expect(dr.steps[1].evidence).toMatch(/api: 1\/1 healthy[\s\S]*data: 1\/1 healthy/);
    expect(dr.steps[3].evidence).toMatch(/data: .* verified: .*1 tables?, 500 rows match/);
    await waitFor(
      () => posted("/ops").some((a) => a.labels.event === "runbook.report" && a.labels.runbook === "daily"),
      {
        what: "the daily report on its channel",
      },
    );

    // A failing step fails the run; the rest still runs; the restore drill used a scratch database.
    const monthly = p.cli(["run", "development", "monthly", "--json"], { env: env() });
    expect(monthly.code).toBe(1);
    const mr = monthly.json<{ ok: boolean; result: ReportJson }>();
    expect(mr.ok).toBe(false);
    expect(mr.result.steps.map((s) => s.status)).toEqual(["passed", "passed", "failed", "passed"]);
    expect(mr.result.steps[0].evidence).toMatch(
      /restored into a scratch database: 1 tables?, 500 rows match/,
    );
    expect(mr.result.steps[2]).toMatchObject({ name: "audit" });
    expect(mr.result.steps[2].evidence).toContain("2 vulnerabilities");
    const scratch = await client.query(
      "SELECT datname FROM pg_database WHERE datname LIKE 'slipway_verify_%'",
    );
    expect(scratch.rows).toEqual([]);
    await waitFor(
      () =>
        posted("/hook").some((a) => a.labels.event === "runbook.failed" && a.labels.runbook === "monthly"),
      { what: "the runbook.failed alert" },
    );

    // stopOnFailure: the rest is skipped; the human report says which step failed.
    const strict = p.cli(["run", "development", "strict"], { env: env() });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(
      /✖ check tests[\s\S]*– command echo never[\s\S]*runbook strict failed: 0\/2/,
    );

    // Unknown runbook: a usage error naming the ones there are.
    const unknown = p.cli(["run", "development", "dayly"], { env: env() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no runbook "dayly".*daily/);

    // From schedules: the daemon runs `tick` every 2 s.
    await waitFor(
      () =>
        existsSync(join(p.dir, "ticks.txt")) &&
        readFileSync(join(p.dir, "ticks.txt"), "utf8").split("\n").length > 2,
      {
        what: "the scheduled runbook to run twice",
        timeoutMs: 20_000,
      },
    );

    // History: every run is an event of the environment, with its report; `slipway runs` lists them.
    const runs = p.cli(["runs", "development", "--json", "-n", "100"], { env: env() });
    expect(runs.code, runs.stderr).toBe(0);
    const reports = runs.json<{ result: { runs: ReportJson[] } }>().result.runs;
    expect(reports.filter((r) => r.runbook !== "tick").map((r) => [r.runbook, r.status])).toEqual([
      ["strict", "failed"],
      ["monthly", "failed"],
      ["daily", "passed"],
    ]);
    expect(reports.find((r) => r.runbook === "tick")?.trigger).toBe("schedule:ticker");
    const human = p.cli(["runs", "development", "monthly"], { env: env() });
    expect(human.stdout).toMatch(
      /✖ .*monthly {2}failed {2}3\/4 steps[\s\S]*✖ audit: failed echo 2 vulnerabilities; exit 3/,
    );
    const store = SqliteStore.open({ home: p.home });
    try {
      const kinds = (await store.listEvents("e2e", "development")).map((e) => e.kind);
      expect(kinds.filter((k) => k === "runbook.report").length).toBeGreaterThanOrEqual(reports.length);
    } finally {
      await store.close();
    }
  }, 240_000);
});
