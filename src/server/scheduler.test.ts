/**
 * The scheduler with real parts: a SQLite store, the real backup catalog and `files` backups,
 * croner firing every second (6-field cron). One service backs up fine and is pruned to its
 * keepLast; one cannot be backed up and raises a critical backup.failed alert.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recordDeployed } from "../../test/support/deployed-env.js";
import { waitFor } from "../../test/support/ports.js";
import { listBackups } from "../engine/data/index.js";
import type { EngineDeps } from "../engine/context.js";
import type { EngineEvent } from "../engine/events.js";
import { silentLogger } from "../logger.js";
import { loadSpecFile } from "../spec/load.js";
import { resolveSpec, type Resolution } from "../spec/resolve.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { jobsOf, Scheduler } from "./scheduler.js";

const SPEC = `project: sched
environments:
  dev: { target: process }
services:
  notes:
    run: node w.js
    path: ./app
    backup:
      type: files
      paths: [data]
      schedule: "* * * * * *"
      verify: "*/2 * * * * *"
      retention: { keepLast: 1 }
  broken:
    run: node w.js
    path: ./app
    backup: { type: files, paths: [does-not-exist], schedule: "* * * * * *" }
schedules:
  - { name: nightly, cron: "0 2 * * *", run: backup }
  - { name: other-env, cron: "0 3 * * *", run: backup-verify, env: production }
  - { name: sweep, cron: "*/5 * * * *", run: health }
`;

let dir: string | undefined;
let store: Store | undefined;
let scheduler: Scheduler | undefined;
afterEach(async () => {
  scheduler?.stop();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = store = scheduler = undefined;
});

async function setup(spec = SPEC): Promise<{ res: Resolution; home: string }> {
  dir = mkdtempSync(join(tmpdir(), "slipway-sched-"));
  const home = join(dir, "home");
  mkdirSync(join(dir, "app"));
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data", "notes.txt"), "hello");
  writeFileSync(join(dir, "slipway.yaml"), spec);
  const res = resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), { env: "dev", version: "v1" });
  store = await openStore({ home });
  // A deployed environment: a revision with status deployed and an instance record.
  await recordDeployed(store, res, ["notes", "broken"], "notes");
  return { res, home };
}

describe("jobsOf", () => {
  it("derives the backup, verify and schedules: jobs of one environment", async () => {
    const { res } = await setup();
    const jobs = jobsOf(res.spec).map((j) => [j.name, j.run, j.cron, j.services.join(",")]);
    expect(jobs).toEqual([
      ["backup:notes", "backup", "* * * * * *", "notes"],
      ["verify:notes", "backup-verify", "*/2 * * * * *", "notes"],
      ["backup:broken", "backup", "* * * * * *", "broken"],
      ["nightly", "backup", "0 2 * * *", "notes,broken"],
      ["sweep", "health", "*/5 * * * *", ""],
    ]);
  });
});

describe("Scheduler", () => {
  it("backs up on schedule, prunes to keepLast, verifies, and alerts on a failed backup", async () => {
    const { res, home } = await setup();
    const events: EngineEvent[] = [];
    let taken = 0;
    const logger = {
      ...silentLogger,
      info: (msg: string) => {
        // Backups taken of notes (not the job-registration lines, which also say "scheduled backup").
        if (/^scheduled backup \S+ of sched\/dev\/notes$/.test(msg)) taken++;
      },
    };
    scheduler = new Scheduler({
      home,
      store: store as Store,
      logger,
      latest: (p, e) => (p === "sched" && e === "dev" ? res : undefined),
      publish: (_spec, e) => events.push(e),
    });
    await scheduler.start();
    // health entries have no handler here: not scheduled.
    expect(scheduler.jobs().map((j) => j.name)).toEqual([
      "backup:notes",
      "verify:notes",
      "backup:broken",
      "nightly",
    ]);

    const deps = { home, logger: silentLogger, store } as EngineDeps;
    const list = async () => (await listBackups(deps, res.spec, "notes")).backups;
    await waitFor(async () => (await list()).some((b) => b.status === "verified"), {
      what: "a scheduled backup verified by the verify schedule",
      timeoutMs: 20_000,
    });
    // keepLast 1 plus the newest verified one: after 3+ scheduled backups at most 2 are kept.
    await waitFor(async () => taken >= 3 && (await list()).length <= 2, {
      what: "pruning to keepLast after 3 backups",
      timeoutMs: 20_000,
    });

    await waitFor(() => events.some((e) => e.type === "alert" && e.service === "broken"), {
      what: "backup.failed alert",
      timeoutMs: 20_000,
    });
    const alert = events.find((e) => e.type === "alert" && e.service === "broken");
    expect(alert).toMatchObject({ type: "alert", kind: "backup.failed", severity: "critical" });
    // notes only ever succeeded: no failure alert, and each success says so (it resolves a failure).
    const notes = events.filter((e) => e.type === "alert" && e.service === "notes");
    expect(notes.filter((e) => e.type === "alert" && e.kind !== "backup.succeeded")).toEqual([]);
    expect(notes.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it("a verify schedule with nothing to verify alerts only when no backup job feeds it", async () => {
    // `notes` is verified every second but nothing ever backs it up: that is worth an alert.
    // (With a backup schedule, a verify firing before the first backup only logs.)
    const spec = `project: sched
environments:
  dev: { target: process }
services:
  notes:
    run: node w.js
    path: ./app
    backup: { type: files, paths: [data], verify: "* * * * * *" }
`;
    const { res, home } = await setup(spec);
    const events: EngineEvent[] = [];
    scheduler = new Scheduler({
      home,
      store: store as Store,
      logger: silentLogger,
      latest: () => res,
      publish: (_spec, e) => events.push(e),
    });
    await scheduler.start();
    expect(scheduler.jobs().map((j) => j.name)).toEqual(["verify:notes"]);
    await waitFor(() => events.some((e) => e.type === "alert"), {
      what: "no-backup alert",
      timeoutMs: 10_000,
    });
    expect(events[0]).toMatchObject({ kind: "backup.failed", service: "notes" });
    expect(events[0]?.type === "alert" && events[0].message).toContain("no backup of notes to verify");
  }, 30_000);

  it("rehydrates the stored snapshot when no operation brought a spec, and stops with the environment", async () => {
    const { home } = await setup();
    scheduler = new Scheduler({
      home,
      store: store as Store,
      logger: silentLogger,
      latest: () => undefined,
      publish: () => {},
    });
    await scheduler.start();
    expect(scheduler.jobs().length).toBe(4);
    await store!.removeInstance("sched", "dev", "notes-1");
    await scheduler.sync();
    expect(scheduler.jobs()).toEqual([]);
  });
});
