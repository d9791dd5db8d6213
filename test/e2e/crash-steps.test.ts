/**
 * kill -9 of the daemon at every journal step (issue 11, "tests that must exist"): a deploy with
 * a migration and a backup, a `rollback --with-db`, and a `slipway restore`, each cut at each of
 * its steps by the test hook SLIPWAY_TEST_CRASH_AT=<revision>:<seq> (src/util/crash-hook.ts: the
 * daemon SIGKILLs itself the moment that step is journaled as running), then restarted by the
 * next command. After each: the environment is fully on the old revision or fully on the new one
 * (code and data), one instance and no orphan process, no backup left running, the facts match
 * what happened (a migration that ran is recorded), the lock is free (a next deploy runs), and
 * exactly one alert says what recovery did. One real PostgreSQL serves every case; the process
 * target keeps each case to seconds.
 *
 * The cases of one kind run as a chain in one project and database: each case's cut operation
 * starts from the deployed state the previous case's "next deploy runs" check left (a fresh
 * project per case cost a project, a database, a daemon and one or two deploys more, for the same
 * state). The daemon that recovers case k is the one case k+1's cut runs in: it carries case
 * k+1's hook, for a revision that does not exist yet, so it recovers and deploys untouched.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookAlerts } from "../support/deployed-env.js";
import { startPostgres, type PgServer } from "../support/postgres.js";
import { startHttpReceiver, type HttpReceiver } from "../support/receivers.js";
import { appProcesses, makeProject, waitFor, type Project } from "./harness.js";

const MIGRATE_SH = `#!/bin/sh
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "INSERT INTO versions VALUES ('$SLIPWAY_VERSION')" || exit 1
echo "applied $SLIPWAY_VERSION"
`;

const spec = (project: string, port: number) => `project: ${project}
environments:
  development:
    target: process
    envFile: .env.development
services:
  api:
    run: node app.js
    path: ./app
    port: ${port}
    env:
      RELEASE: "\${VERSION}"
      DATABASE_URL: "\${DATABASE_URL}"
    health: { http: /health, interval: 200ms, timeout: 1s }
    stop: { grace: 2s }
    rollout: { keepWarm: 0s }
    migrate: { up: sh migrate.sh }
    backup: { type: postgres, url: "\${DATABASE_URL}", before: deploy }
${webhookAlerts("HOOK_URL")}`;

type Step = { seq: number; kind: string; service?: string; status: string };
type Rev = {
  number: number;
  version: string;
  status: string;
  facts: { backups?: Record<string, string>; migrations?: Record<string, boolean> };
};
type StatusJson = {
  result: {
    revision?: { number: number; status: string };
    services: { name: string; instances: { revision: number; version: string; state: string }[] }[];
  };
};

let server: PgServer;
let hook: HttpReceiver;
let chains = 0;
const projects: Project[] = [];

beforeAll(async () => {
  server = await startPostgres();
  hook = await startHttpReceiver();
}, 60_000);

afterAll(async () => {
  for (const p of projects) await p.cleanup();
  await hook?.close();
  await server?.stop();
}, 120_000);

interface Case {
  p: Project;
  name: string;
  url: string;
  sql<T extends pg.QueryResultRow>(q: string): Promise<T[]>;
  versions(): Promise<string[]>;
}

/**
 * A fresh project and database for a chain of cases. The daemon its first command starts carries
 * the crash hook (`crashAt`, "<revision>:<seq>"); crashAndRecover swaps it for the next case's.
 */
async function newChain(crashAt: string): Promise<Case> {
  const name = `crash${++chains}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  // A connection per query: a restore swaps the database and ends the connections to it.
  const sql = async <T extends pg.QueryResultRow>(q: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<T>(q)).rows;
    } finally {
      await c.end();
    }
  };
  await sql("CREATE TABLE versions (v text PRIMARY KEY)");
  const p = await makeProject();
  projects.push(p);
  writeFileSync(p.file, spec(name, p.ports.api));
  writeFileSync(join(p.dir, "app", "migrate.sh"), MIGRATE_SH);
  chmodSync(join(p.dir, "app", "migrate.sh"), 0o755);
  // Recovery re-reads the environment's env file (never the daemon's own environment).
  writeFileSync(join(p.dir, ".env.development"), `DATABASE_URL=${url}\nHOOK_URL=${hook.url}\n`);
  // The alert hub re-hydrates its stored channels from the daemon's environment (notify/hub.ts).
  Object.assign(p.env, {
    HOOK_URL: hook.url,
    PATH: `${server.binDir}:${process.env.PATH}`,
    SLIPWAY_TEST_CRASH_AT: crashAt,
  });
  // Sorted here (not by the server's collation): v10 and v9 compare the same way in every check.
  const versions = async () => (await sql<{ v: string }>("SELECT v FROM versions")).map((r) => r.v).sort();
  return { p, name, url, sql, versions };
}

function ok(r: { code: number; stderr: string }): void {
  expect(r.code, r.stderr).toBe(0);
}

function history(p: Project, n: number): { revision: Rev; steps: Step[] } {
  const h = p.cli(["history", "development", String(n), "--json"]);
  ok(h);
  return h.json<{ result: { revision: Rev; steps: Step[] }[] }>().result[0];
}

/**
 * The alerts of one project the webhook received that speak of an interrupted operation of one
 * revision: each once (a group's later notification repeats the alerts it holds), firing ones only.
 */
function recoveryAlerts(project: string, revision: number): string[] {
  const all = hook.requests.flatMap((r) =>
    (JSON.parse(r.body) as { alerts: { status?: string; revision?: number }[] }).alerts
      .filter((a) => a.status !== "resolved" && a.revision === revision)
      .map((a) => JSON.stringify(a)),
  );
  return [...new Set(all)].filter((a) => a.includes(`${project} development:`) && a.includes("interrupted"));
}

/**
 * Run the command the case's daemon dies in; the next command's daemon recovers it before it
 * answers. That daemon carries `nextHook`, the next case's cut (none after the last case).
 * Returns the status it answered: the state recovery left.
 */
async function crashAndRecover(
  c: Case,
  args: string[],
  nextHook: string | undefined,
): Promise<StatusJson["result"]> {
  const at = c.p.env.SLIPWAY_TEST_CRASH_AT;
  const cut = c.p.cli(args);
  expect(cut.code, `${args.join(" ")} should have been cut at ${at}`).not.toBe(0);
  if (nextHook) c.p.env.SLIPWAY_TEST_CRASH_AT = nextHook;
  else delete c.p.env.SLIPWAY_TEST_CRASH_AT;
  const st = c.p.cli(["status", "development", "--json"]);
  ok(st);
  return st.json<StatusJson>().result;
}

type Backups = { result: { backups: { id: string; status: string }[] } };

/**
 * Fully on one revision (`st`, the status after recovery): it is deployed, one running instance
 * of it, serving its version. `cut` is the revision of the cut operation. Returns the revision
 * and the backups.
 */
async function consistent(
  c: Case,
  st: StatusJson["result"],
  cut: number,
  expectVersions: Record<number, string>,
): Promise<{ n: number; backups: Backups["result"]["backups"] }> {
  const n = st.revision?.number as number;
  expect(Object.keys(expectVersions).map(Number)).toContain(n);
  expect(st.revision?.status).toBe("deployed");
  const api = st.services.find((s) => s.name === "api");
  expect(api?.instances.map((i) => [i.version, i.state])).toEqual([[expectVersions[n], "running"]]);
  expect((await c.p.get("api")).body).toBe(expectVersions[n]);
  await waitFor(() => appProcesses(c.p.dir).length === 1, {
    what: "exactly one app process",
    timeoutMs: 15_000,
  });
  // No backup left running by the killed daemon.
  const list = c.p.cli(["backups", "development", "--json"]);
  ok(list);
  const backups = list.json<Backups>().result.backups;
  expect(backups.filter((b) => b.status === "running")).toEqual([]);
  // Exactly one alert tells what recovery did.
  await waitFor(() => recoveryAlerts(c.name, cut).length >= 1, {
    what: "the recovery alert",
    timeoutMs: 15_000,
  });
  await new Promise((r) => setTimeout(r, 300));
  expect(recoveryAlerts(c.name, cut), c.p.env.CASE_LABEL).toHaveLength(1);
  return { n, backups };
}

/** The lock is free and the state sound: the next deploy runs to the end. */
function nextDeployRuns(c: Case, version: string): void {
  ok(c.p.cli(["deploy", "development", "--version", version]));
}

/** The steps a command would journal, from its dry run. */
function plannedSteps(c: Case, args: string[]): Step[] {
  const dry = c.p.cli([...args, "--dry-run", "--json"]);
  ok(dry);
  return dry.json<{ result: { plan: { steps: Step[] } } }>().result.plan.steps;
}

/** The cut fell on the planned step: the journal's step `step.seq` is that step. */
function cutAt(steps: Step[], step: Step, label: string): void {
  const s = steps.find((x) => x.seq === step.seq);
  expect([s?.kind, s?.service], label).toEqual([step.kind, step.service]);
}

describe("kill -9 of the daemon at every journal step", () => {
  it("a deploy with a backup and a migration, cut at each step", async () => {
    // Revision r-1 (version v<r-1>) is deployed; the case's deploy of v<r> is revision r; its
    // "next deploy" is r+1, so the next case cuts r+2.
    const c = await newChain("2:1");
    ok(c.p.cli(["deploy", "development", "--version", "v1"]));
    const steps = plannedSteps(c, ["deploy", "development", "--version", "v2"]);
    expect(steps.map((s) => s.kind)).toEqual(expect.arrayContaining(["backup", "migrate", "rollout"]));
    expect(steps[0].seq).toBe(1);
    let r = 2;
    for (const [i, step] of steps.entries()) {
      const label = `cut at step ${step.seq} (${step.kind} ${step.service ?? ""})`;
      c.p.env.CASE_LABEL = label;
      const next = steps[i + 1];
      const st = await crashAndRecover(
        c,
        ["deploy", "development", "--version", `v${r}`],
        next && `${r + 2}:${next.seq}`,
      );
      const { n, backups } = await consistent(c, st, r, { [r - 1]: `v${r - 1}`, [r]: `v${r}` });
      const cutRev = history(c.p, r);
      cutAt(cutRev.steps, step, label);
      expect(cutRev.revision.status, label).toBe(n === r ? "deployed" : "failed");
      expect(
        cutRev.steps.filter((s) => s.status === "running" || s.status === "pending"),
        label,
      ).toEqual([]);
      // Facts complete: a migration that ran is on record; a backup on record exists and is ok.
      if ((await c.versions()).includes(`v${r}`))
        expect(cutRev.revision.facts.migrations?.api, label).toBe(true);
      const backup = cutRev.revision.facts.backups?.api;
      if (backup) expect(backups.find((b) => b.id === backup)?.status, label).toBe("ok");
      nextDeployRuns(c, `v${r + 1}`);
      r += 2;
    }
  }, 600_000);

  it("a rollback --with-db, cut at each step: code and data on one side", async () => {
    // Each case: v<x> deployed (revision x), then v<x+1> (x+1, its backup holds v<x>'s data);
    // the rollback to x is revision x+2; its "next deploy" x+3 is the next case's v<x>.
    const c = await newChain("3:1");
    ok(c.p.cli(["deploy", "development", "--version", "v1"]));
    let atX = await c.versions();
    ok(c.p.cli(["deploy", "development", "--version", "v2"]));
    const rollback = (x: number) => ["rollback", "development", String(x), "--with-db"];
    const steps = plannedSteps(c, rollback(1));
    expect(steps.map((s) => s.kind)).toContain("restore");
    expect(steps[0].seq).toBe(1);
    let x = 1;
    for (const [i, step] of steps.entries()) {
      if (i > 0) ok(c.p.cli(["deploy", "development", "--version", `v${x + 1}`]));
      const r = x + 2;
      const label = `cut at step ${step.seq} (${step.kind})`;
      c.p.env.CASE_LABEL = label;
      const withY = await c.versions();
      expect(withY, label).toEqual([...atX, `v${x + 1}`].sort());
      const next = steps[i + 1];
      const st = await crashAndRecover(c, rollback(x), next && `${r + 3}:${next.seq}`);
      const { n } = await consistent(c, st, r, { [x + 1]: `v${x + 1}`, [r]: `v${x}` });
      // Code and data together: revision x's code with the backup's data, or x+1's with its own.
      expect(await c.versions(), label).toEqual(n === r ? atX : withY);
      const cutRev = history(c.p, r);
      cutAt(cutRev.steps, step, label);
      expect(cutRev.revision.status, label).toBe(n === r ? "deployed" : "failed");
      nextDeployRuns(c, `v${r + 1}`);
      x = r + 1;
      atX = await c.versions();
    }
  }, 600_000);

  it("a restore, cut at each step: the old data or the new, and the history says which", async () => {
    // Each case: v<x> deployed (revision x), then v<x+1>; the restore of x+1's backup (v<x>'s
    // data) is revision x+2; its "next deploy" x+3 is the next case's v<x>.
    const c = await newChain("3:1");
    ok(c.p.cli(["deploy", "development", "--version", "v1"]));
    let x = 1;
    for (const seq of [1, 2, 3]) {
      const atX = await c.versions();
      ok(c.p.cli(["deploy", "development", "--version", `v${x + 1}`]));
      const withY = await c.versions();
      expect(withY).toEqual([...atX, `v${x + 1}`].sort());
      const backup = history(c.p, x + 1).revision.facts.backups?.api as string;
      expect(backup).toMatch(/^api-/);
      const r = x + 2;
      const label = `restore cut at step ${seq}`;
      c.p.env.CASE_LABEL = label;
      const st = await crashAndRecover(
        c,
        ["restore", "development", backup, "--yes"],
        seq < 3 ? `${r + 3}:${seq + 1}` : undefined,
      );
      await consistent(c, st, r, { [x + 1]: `v${x + 1}` });
      const cutRev = history(c.p, r);
      const data = await c.versions();
      // Old data (the restore undone) or the backup's (finished): nothing in between.
      expect([atX, withY], label).toContainEqual(data);
      const restored = data.length === atX.length;
      expect(cutRev.revision.status, label).toBe(restored ? "completed" : "failed");
      const alert = recoveryAlerts(c.name, r)[0];
      expect(alert, label).toContain(
        restored ? "finished by recovery" : "the data it would replace was kept",
      );
      // Nothing staged is left beside the live database.
      const dbs = await c.sql<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'slipway_%'",
      );
      expect(dbs, `${label}: ${JSON.stringify(cutRev.revision)} ${JSON.stringify(cutRev.steps)}`).toEqual([]);
      nextDeployRuns(c, `v${r + 1}`);
      x = r + 1;
    }
  }, 600_000);
});
