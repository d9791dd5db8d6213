/**
 * kill -9 of the daemon at every journal step (issue 11, "tests that must exist"): a deploy with
 * a migration and a backup, a `rollback --with-db`, and a `slipway restore`, each cut at each of
 * its steps by the test hook SLIPWAY_TEST_CRASH_AT=<revision>:<seq> (src/util/crash-hook.ts: the
 * daemon SIGKILLs itself the moment that step is journaled as running), then restarted by the
 * next command. After each: the environment is fully on the old revision or fully on the new one
 * (code and data), one instance and no orphan process, no backup left running, the facts match
 * what happened (a migration that ran is recorded), the lock is free (a next deploy runs), and
 * exactly one alert says what recovery did. One real PostgreSQL serves every case (a database
 * each); the process target keeps each case to seconds.
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
let cases = 0;
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
 * A fresh project and database. The daemon its first command starts carries the crash hook
 * (`crashAt`, "<revision>:<seq>"); crashAndRecover drops it before the daemon is started again.
 */
async function newCase(crashAt: string): Promise<Case> {
  const name = `crash${++cases}`;
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
  const versions = async () =>
    (await sql<{ v: string }>("SELECT v FROM versions ORDER BY v")).map((r) => r.v);
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
 * The alerts of one project the webhook received that speak of an interrupted operation: each
 * once (a group's later notification repeats the alerts it holds), firing ones only.
 */
function recoveryAlerts(project: string): string[] {
  const all = hook.requests.flatMap((r) =>
    (JSON.parse(r.body) as { alerts: { status?: string }[] }).alerts
      .filter((a) => a.status !== "resolved")
      .map((a) => JSON.stringify(a)),
  );
  return [...new Set(all)].filter((a) => a.includes(`${project} development:`) && a.includes("interrupted"));
}

/** Run the command the case's daemon dies in; the next command's daemon (no hook) recovers it. */
async function crashAndRecover(c: Case, args: string[]): Promise<void> {
  const at = c.p.env.SLIPWAY_TEST_CRASH_AT;
  const cut = c.p.cli(args);
  expect(cut.code, `${args.join(" ")} should have been cut at ${at}`).not.toBe(0);
  delete c.p.env.SLIPWAY_TEST_CRASH_AT;
  ok(c.p.cli(["status", "development", "--json"]));
}

/** Fully on one revision: it is deployed, one running instance of it, serving its version. */
async function consistent(c: Case, expectVersions: Record<number, string>): Promise<number> {
  const st = c.p.cli(["status", "development", "--json"]).json<StatusJson>().result;
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
  const backups = c.p
    .cli(["backups", "development", "--json"])
    .json<{ result: { backups: { status: string }[] } }>();
  expect(backups.result.backups.filter((b) => b.status === "running")).toEqual([]);
  // Exactly one alert tells what recovery did.
  await waitFor(() => recoveryAlerts(c.name).length >= 1, { what: "the recovery alert", timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 300));
  expect(recoveryAlerts(c.name), c.p.env.CASE_LABEL).toHaveLength(1);
  return n;
}

/** The lock is free and the state sound: the next deploy runs to the end. */
function nextDeployRuns(c: Case): void {
  ok(c.p.cli(["deploy", "development", "--version", "v9"]));
}

/** The steps a command would journal, from its dry run. */
function plannedSteps(c: Case, args: string[]): Step[] {
  const dry = c.p.cli([...args, "--dry-run", "--json"]);
  ok(dry);
  return dry.json<{ result: { plan: { steps: Step[] } } }>().result.plan.steps;
}

describe("kill -9 of the daemon at every journal step", () => {
  it("a deploy with a backup and a migration, cut at each step", async () => {
    const first = await newCase("2:1");
    ok(first.p.cli(["deploy", "development", "--version", "v1"]));
    const steps = plannedSteps(first, ["deploy", "development", "--version", "v2"]);
    expect(steps.map((s) => s.kind)).toEqual(expect.arrayContaining(["backup", "migrate", "rollout"]));
    for (const step of steps) {
      const c = step === steps[0] ? first : await newCase(`2:${step.seq}`);
      if (c !== first) ok(c.p.cli(["deploy", "development", "--version", "v1"]));
      const label = `cut at step ${step.seq} (${step.kind} ${step.service ?? ""})`;
      c.p.env.CASE_LABEL = label;
      await crashAndRecover(c, ["deploy", "development", "--version", "v2"]);
      const n = await consistent(c, { 1: "v1", 2: "v2" });
      const r2 = history(c.p, 2);
      expect(r2.revision.status, label).toBe(n === 2 ? "deployed" : "failed");
      expect(
        r2.steps.filter((s) => s.status === "running" || s.status === "pending"),
        label,
      ).toEqual([]);
      // Facts complete: a migration that ran is on record; a backup on record exists and is ok.
      if ((await c.versions()).includes("v2")) expect(r2.revision.facts.migrations?.api, label).toBe(true);
      const backup = r2.revision.facts.backups?.api;
      if (backup) {
        const list = c.p
          .cli(["backups", "development", "--json"])
          .json<{ result: { backups: { id: string; status: string }[] } }>();
        expect(list.result.backups.find((b) => b.id === backup)?.status, label).toBe("ok");
      }
      nextDeployRuns(c);
    }
  }, 600_000);

  it("a rollback --with-db, cut at each step: code and data on one side", async () => {
    const first = await newCase("3:1");
    const prepare = (c: Case) => {
      ok(c.p.cli(["deploy", "development", "--version", "v1"]));
      ok(c.p.cli(["deploy", "development", "--version", "v2"]));
    };
    prepare(first);
    const args = ["rollback", "development", "1", "--with-db"];
    const steps = plannedSteps(first, args);
    expect(steps.map((s) => s.kind)).toContain("restore");
    for (const step of steps) {
      const c = step === steps[0] ? first : await newCase(`3:${step.seq}`);
      if (c !== first) prepare(c);
      const label = `cut at step ${step.seq} (${step.kind})`;
      c.p.env.CASE_LABEL = label;
      expect(await c.versions()).toEqual(["v1", "v2"]);
      await crashAndRecover(c, args);
      const n = await consistent(c, { 2: "v2", 3: "v1" });
      // Code and data together: revision 1's code with the backup's data, or revision 2's with its own.
      expect(await c.versions(), label).toEqual(n === 3 ? ["v1"] : ["v1", "v2"]);
      expect(history(c.p, 3).revision.status, label).toBe(n === 3 ? "deployed" : "failed");
      nextDeployRuns(c);
    }
  }, 600_000);

  it("a restore, cut at each step: the old data or the new, and the history says which", async () => {
    for (const seq of [1, 2, 3]) {
      const c = await newCase(`3:${seq}`);
      ok(c.p.cli(["deploy", "development", "--version", "v1"]));
      ok(c.p.cli(["deploy", "development", "--version", "v2"]));
      const backup = history(c.p, 2).revision.facts.backups?.api as string;
      expect(backup).toMatch(/^api-/);
      await crashAndRecover(c, ["restore", "development", backup, "--yes"]);
      await consistent(c, { 2: "v2" });
      const r3 = history(c.p, 3);
      const data = await c.versions();
      const label = `restore cut at step ${seq}`;
      // Old data (the restore undone) or the backup's (finished): nothing in between.
      expect([["v1"], ["v1", "v2"]], label).toContainEqual(data);
      expect(r3.revision.status, label).toBe(data.length === 1 ? "completed" : "failed");
      const alert = recoveryAlerts(c.name)[0];
      expect(alert, label).toContain(
        data.length === 1 ? "finished by recovery" : "the data it would replace was kept",
      );
      // Nothing staged is left beside the live database.
      const dbs = await c.sql<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'slipway_%'",
      );
      expect(dbs, `${label}: ${JSON.stringify(r3.revision)} ${JSON.stringify(r3.steps)}`).toEqual([]);
      nextDeployRuns(c);
    }
  }, 600_000);
});
