import { describe, expect, test } from "vitest";
import { selectForPruning } from "../../src/backup/index.js";
import type { BackupRecord, BackupStatus } from "../../src/backup/index.js";

const NOW = new Date("2025-06-30T12:00:00Z");
const DAY = 24 * 3600 * 1000;

function rec(id: string, daysAgo: number, status: BackupStatus = "ok"): BackupRecord {
  return {
    id,
    project: "p",
    env: "prod",
    service: "db",
    type: "postgres",
    status,
    source: "postgres://db",
    startedAt: new Date(NOW.getTime() - daysAgo * DAY).toISOString(),
    key: `p/prod/db/${id}.pgdump`,
    facts: {},
    config: { type: "postgres" },
  };
}

const ids = (rs: BackupRecord[]) => rs.map((r) => r.id).sort();

describe("retention", () => {
  test("maxAge defaults to 30 days", () => {
    const rs = [rec("new", 1), rec("edge", 29.9), rec("old", 31), rec("older", 60)];
    expect(ids(selectForPruning(rs, {}, NOW))).toEqual(["old", "older"]);
  });

  test("keepLast counts successful backups only", () => {
    const rs = [rec("a", 1), rec("f", 1.5, "failed"), rec("b", 2), rec("c", 3, "verified"), rec("d", 4)];
    // c is the newest verified one: kept even though keepLast 1 would drop it.
    expect(ids(selectForPruning(rs, { keepLast: 1 }, NOW))).toEqual(["b", "d"]);
  });

  test("never deletes the newest verified backup, however old", () => {
    const rs = [rec("recent", 1), rec("v-old", 90, "verified"), rec("v-older", 120, "verified")];
    expect(ids(selectForPruning(rs, { keepLast: 1, maxAge: 7 * DAY }, NOW))).toEqual(["v-older"]);
  });

  test("never deletes the newest successful backup even when all are too old", () => {
    const rs = [rec("a", 40), rec("b", 50), rec("failed", 45, "failed")];
    expect(ids(selectForPruning(rs, {}, NOW))).toEqual(["b", "failed"]);
  });

  test("running backups are left alone; corrupt ones go by age", () => {
    const rs = [
      rec("run", 100, "running"),
      rec("bad", 40, "corrupt"),
      rec("bad-new", 1, "corrupt"),
      rec("ok", 2),
    ];
    expect(ids(selectForPruning(rs, { keepLast: 5 }, NOW))).toEqual(["bad"]);
  });

  test("protected ids (a rollback --with-db may restore them) survive keepLast and maxAge", () => {
    const rs = [rec("a", 1), rec("b", 2), rec("c", 40), rec("d", 50)];
    const protect = new Set(["b", "d"]);
    expect(ids(selectForPruning(rs, { keepLast: 1, protect }, NOW))).toEqual(["c"]);
    // They count towards keepLast: with keepLast 2, a and b fill it, c goes as before.
    expect(ids(selectForPruning(rs, { keepLast: 2, maxAge: 90 * DAY, protect }, NOW))).toEqual(["c"]);
  });
});
