import { describe, expect, it } from "vitest";
import type { Revision, RevisionFacts } from "../store/store.js";
import { backupsInUse, dataSteps, planDataRollback, recordDataStep } from "./data/index.js";

/** A revision whose snapshot declares `down` for the services named in it. */
function rev(
  number: number,
  facts: Record<string, unknown>,
  opts: Partial<Revision> & { down?: string[] } = {},
): Revision {
  const { down = [], ...rest } = opts;
  return {
    project: "p",
    env: "dev",
    number,
    version: `v${number}`,
    status: "superseded",
    snapshot: { services: Object.fromEntries(down.map((n) => [n, { migrate: { up: "up", down: "down" } }])) },
    services: [],
    actor: "t",
    description: "",
    skipChecks: false,
    createdAt: new Date(number * 1000).toISOString(),
    facts,
    ...rest,
  };
}

describe("planDataRollback", () => {
  it("without migrations, restores the backups recorded by the deploy that replaced the target", () => {
    const revs = [rev(1, {}), rev(2, { backups: { db: "db-2" } }), rev(3, { backups: { db: "db-3" } })];
    const plan = planDataRollback(revs, revs[0]);
    expect(plan.steps).toEqual([]);
    expect(plan.restores).toEqual([
      { revision: 2, version: "v2", service: "db", action: "restore", backupId: "db-2", backupService: "db" },
    ]);
  });

  it("skips a failed revision: the first later revision that went live replaced the target", () => {
    const revs = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" } }, { status: "failed" }),
      rev(3, { backups: { db: "db-3" } }),
    ];
    expect(planDataRollback(revs, revs[0]).restores.map((s) => s.backupId)).toEqual(["db-3"]);
  });

  it("a down-migration keeps the data written since: no replacing restore", () => {
    const revs = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" }, migrations: { api: true } }, { down: ["api"] }),
    ];
    const plan = planDataRollback(revs, revs[0]);
    expect(plan.steps.map((s) => s.action)).toEqual(["down"]);
    expect(plan.restores).toEqual([]);
  });

  it("a migration without down restores that revision's backup; an older one already covering it wins", () => {
    const revs = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" } }),
      rev(3, { backups: { db: "db-3" }, migrations: { api: true } }),
    ];
    const plan = planDataRollback(revs, revs[0]);
    expect(plan.steps.map((s) => s.backupId)).toEqual(["db-3"]);
    // db-2 runs after db-3: the data ends as revision 1 left it.
    expect(plan.restores.map((s) => s.backupId)).toEqual(["db-2"]);
    const failedMigrated = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" }, migrations: { api: true } }, { status: "failed" }),
      rev(3, { backups: { db: "db-3" } }),
    ];
    const p2 = planDataRollback(failedMigrated, failedMigrated[0]);
    expect(p2.steps.map((s) => s.backupId)).toEqual(["db-2"]);
    expect(p2.restores).toEqual([]);
  });

  it("a replacing revision whose data an earlier --with-db rollback returned is not restored again", () => {
    const revs = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" } }, { status: "rolled-back" }),
      rev(3, { dataRollback: { revisions: [2] } }),
    ];
    expect(planDataRollback(revs, revs[0]).restores).toEqual([]);
  });
});

describe("backupsInUse", () => {
  it("keeps the backups recorded after the oldest revision still a rollback target", () => {
    const revs = [
      rev(1, {}),
      rev(2, { backups: { db: "db-2" } }),
      rev(3, { backups: { db: "db-3", cache: "cache-3" } }),
      rev(4, { backups: { db: "db-4" } }, { status: "failed" }),
      rev(5, { backups: { db: "db-5" } }, { status: "deployed" }),
    ];
    // retain 2: targets 5 (deployed), 3 and 2 (4 failed); 2 is the oldest, db-2 was taken before it.
    expect([...backupsInUse(revs, 2)].sort()).toEqual(["cache-3", "db-3", "db-4", "db-5"]);
    expect([...backupsInUse(revs, 0)]).toEqual([]);
    expect([...backupsInUse(revs, 10)].sort()).toEqual(["cache-3", "db-2", "db-3", "db-4", "db-5"]);
    const withRelease = [...revs, rev(6, { releaseBackup: "release-6" }, { status: "deployed" })];
    expect(backupsInUse(withRelease, 1)).toEqual(new Set(["release-6"]));
  });

  it("dataSteps restores a backup once; recordDataStep keeps what ran for a later rollback", () => {
    const revs = [rev(1, {}), rev(2, { migrations: { api: true, worker: true }, backups: { db: "db-2" } })];
    const steps = dataSteps(planDataRollback(revs, revs[0]));
    expect(steps.map((s) => [s.action, s.backupId, s.revision])).toEqual([["restore", "db-2", 2]]);
    const facts: RevisionFacts = {};
    recordDataStep(facts, steps[0], "restored db-2");
    expect(facts.dataRollback).toEqual({ revisions: [2], steps: [{ ...steps[0], result: "restored db-2" }] });
    // A later rollback to 1 skips revision 2: its data was returned.
    const later = [...revs, rev(3, facts)];
    expect(dataSteps(planDataRollback(later, revs[0]))).toEqual([]);
  });
});
