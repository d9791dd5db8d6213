/**
 * Conformance for the store's backup catalog and silences (records.ts); run from
 * runStoreConformance (store.case.ts) against every implementation.
 */
import { describe, expect, it } from "vitest";
import type { BackupRecord, SilenceRecord } from "./records.js";
import type { Store } from "./store.js";

export function backupRecord(over: Partial<BackupRecord> = {}): BackupRecord {
  return {
    id: "db-20240501T100000Z-ab12",
    project: "shop",
    env: "staging",
    service: "db",
    type: "postgres",
    status: "running",
    source: "postgres://app:***@127.0.0.1:5432/shop",
    startedAt: "2024-05-01T10:00:00.000Z",
    key: "shop/staging/db/db-20240501T100000Z-ab12.dump",
    facts: { tables: { orders: 12, users: 3 } },
    config: { type: "postgres", url: "postgres://app@127.0.0.1:5432/shop" },
    ...over,
  } as BackupRecord;
}

export function silenceRecord(over: Partial<SilenceRecord> = {}): SilenceRecord {
  return {
    id: "sil-0001",
    project: "shop",
    env: "staging",
    matchers: { service: ["api"], severity: ["warning", "!info"] },
    startsAt: "2024-05-01T10:00:00.000Z",
    endsAt: "2024-05-01T12:00:00.000Z",
    author: "alice",
    comment: "planned maintenance",
    createdAt: "2024-05-01T09:59:00.000Z",
    ...over,
  };
}

export function describeRecords(open: () => Promise<Store>): void {
  describe("backup catalog", () => {
    it("returns what was stored, field for field, and replaces by id", async () => {
      const s = await open();
      const rec = backupRecord();
      await s.putBackup(rec);
      expect(await s.getBackup(rec.id)).toEqual(rec);
      const done = backupRecord({
        status: "verified",
        revision: 7,
        finishedAt: "2024-05-01T10:00:05.000Z",
        size: 5_000_000_000,
        sha256: "e3b0c442",
        location: "/home/backups/x.dump",
        error: "none",
        verifiedAt: "2024-05-01T11:00:00.000Z",
        verifyDetail: "restored into a scratch database: 15 rows",
      });
      await s.putBackup(done);
      expect(await (await open()).getBackup(rec.id)).toEqual(done);
      expect(await s.getBackup("nope")).toBeUndefined();
    });

    it("lists newest first per environment and service; finds running ones; deletes", async () => {
      const s = await open();
      const a = backupRecord({ id: "db-a", startedAt: "2024-05-01T10:00:00.000Z", status: "ok" });
      const b = backupRecord({ id: "db-b", startedAt: "2024-05-02T10:00:00.000Z" });
      const c = backupRecord({ id: "db-c", startedAt: "2024-05-02T10:00:00.000Z", status: "failed" });
      const web = backupRecord({ id: "web-a", service: "web", startedAt: "2024-05-03T00:00:00.000Z" });
      const other = backupRecord({ id: "db-prod", env: "production" });
      for (const r of [a, b, c, web, other]) await s.putBackup(r);
      expect((await s.listBackups("shop", "staging", "db")).map((r) => r.id)).toEqual([
        "db-c",
        "db-b",
        "db-a",
      ]);
      expect((await s.listBackups("shop", "staging")).map((r) => r.id)).toEqual([
        "web-a",
        "db-c",
        "db-b",
        "db-a",
      ]);
      expect((await s.runningBackups()).map((r) => r.id).sort()).toEqual(["db-b", "db-prod", "web-a"]);
      expect(await s.deleteBackup("db-b")).toBe(true);
      expect(await s.deleteBackup("db-b")).toBe(false);
      expect((await s.listBackups("shop", "staging", "db")).map((r) => r.id)).toEqual(["db-c", "db-a"]);
    });
  });

  describe("silences", () => {
    it("stores silences per environment and lists them newest first", async () => {
      const s = await open();
      const one = silenceRecord();
      const two = silenceRecord({ id: "sil-0002", createdAt: "2024-05-01T10:30:00.000Z" });
      await s.addSilence(one);
      await s.addSilence(two);
      await s.addSilence(silenceRecord({ env: "production" }));
      expect(await s.getSilence("shop", "staging", one.id)).toEqual(one);
      expect((await s.listSilences("shop", "staging")).map((x) => x.id)).toEqual(["sil-0002", "sil-0001"]);
      await expect(s.addSilence(one)).rejects.toThrow();
    });

    it("lists only silences ending after a time, expires and prunes", async () => {
      const s = await open();
      await s.addSilence(silenceRecord({ id: "early", endsAt: "2024-05-01T11:00:00.000Z" }));
      await s.addSilence(silenceRecord({ id: "late", endsAt: "2024-05-01T13:00:00.000Z" }));
      const at = "2024-05-01T11:30:00.000Z";
      expect((await s.listSilences("shop", "staging", { endsAfter: at })).map((x) => x.id)).toEqual(["late"]);
      expect(await s.setSilenceEnd("shop", "staging", "late", "2024-05-01T11:15:00.000Z")).toBe(true);
      expect(await s.setSilenceEnd("shop", "staging", "nope", at)).toBe(false);
      expect(await s.listSilences("shop", "staging", { endsAfter: at })).toEqual([]);
      expect((await s.getSilence("shop", "staging", "late"))?.endsAt).toBe("2024-05-01T11:15:00.000Z");
      expect(await s.pruneSilences("2024-05-01T11:10:00.000Z")).toBe(1);
      expect((await s.listSilences("shop", "staging")).map((x) => x.id)).toEqual(["late"]);
    });
  });
}
