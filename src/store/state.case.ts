/** Locks, events, meta and migrations: part of the store conformance suite (store.case.ts). */
import { describe, expect, it } from "vitest";
import type { Store } from "./store.js";
import { describeRecords } from "./records.case.js";
import { event, lock, newRevision } from "./fixtures.case.js";

export function describeLocksEventsMeta(open: () => Promise<Store>): void {
  describe("locks", () => {
    it("gives the lock to the first acquirer and names the holder to the second", async () => {
      const s = await open();
      expect(await s.getLock("shop", "staging")).toBeUndefined();
      expect(await s.acquireLock(lock())).toEqual({ ok: true });
      const second = await s.acquireLock(lock({ holder: "cli:host:200", pid: 200, operation: "rollback" }));
      expect(second).toEqual({ ok: false, holder: lock() });
      expect(await s.getLock("shop", "staging")).toEqual(lock());
      expect(await s.acquireLock(lock({ env: "production", holder: "cli:host:200" }))).toEqual({
        ok: true,
      });
    });

    it("releases only for the holder when a holder is given", async () => {
      const s = await open();
      await s.acquireLock(lock());
      expect(await s.releaseLock("shop", "staging", "someone-else")).toBe(false);
      expect(await s.getLock("shop", "staging")).toEqual(lock());
      expect(await s.releaseLock("shop", "staging", lock().holder)).toBe(true);
      expect(await s.getLock("shop", "staging")).toBeUndefined();
      expect(await s.releaseLock("shop", "staging", lock().holder)).toBe(false);
      expect(await s.acquireLock(lock({ holder: "next" }))).toEqual({ ok: true });
    });

    it("releases a stale lock without naming its holder", async () => {
      const s = await open();
      await s.acquireLock(lock({ holder: "daemon:crashed-host:999", pid: 999 }));
      const other = await open();
      expect(await other.releaseLock("shop", "staging")).toBe(true);
      expect(await other.releaseLock("shop", "staging")).toBe(false);
      expect(await other.acquireLock(lock())).toEqual({ ok: true });
    });

    it("names the environments with a revision in progress or a lock", async () => {
      const s = await open();
      expect(await s.unfinishedEnvironments()).toEqual([]);
      await s.acquireLock(lock());
      const rev = await s.createRevision(newRevision({ env: "production", status: "in-progress" }));
      const sorted = async () =>
        (await s.unfinishedEnvironments()).sort((a, b) => a.env.localeCompare(b.env));
      expect(await sorted()).toEqual([
        { project: "shop", env: "production" },
        { project: "shop", env: "staging" },
      ]);
      await s.updateRevision("shop", "production", rev.number, { status: "failed" });
      await s.releaseLock("shop", "staging");
      expect(await s.unfinishedEnvironments()).toEqual([]);
    });

    it("names every environment with a revision, once, sorted", async () => {
      const s = await open();
      expect(await s.revisedEnvironments()).toEqual([]);
      for (const env of ["staging", "production", "staging"])
        await s.createRevision(newRevision({ env, status: "failed" }));
      await s.createRevision(newRevision({ project: "api", env: "production", status: "deployed" }));
      expect(await s.revisedEnvironments()).toEqual([
        { project: "api", env: "production" },
        { project: "shop", env: "production" },
        { project: "shop", env: "staging" },
      ]);
    });

    it("hands a stale lock to exactly one of the callers taking it over", async () => {
      const s = await open();
      await s.acquireLock(lock({ holder: "daemon:host:999", pid: 999 }));
      const stores = [await open(), await open(), await open()];
      const won = await Promise.all(
        stores.map((o, i) => o.takeOverLock(lock({ holder: `cli:host:${i}`, pid: i }), "daemon:host:999")),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = won.indexOf(true);
      expect(await s.getLock("shop", "staging")).toEqual(lock({ holder: `cli:host:${winner}`, pid: winner }));
      expect(await s.takeOverLock(lock({ holder: "late" }), "daemon:host:999")).toBe(false);
    });

    it("lets exactly one of several concurrent acquirers win", async () => {
      const stores = [await open(), await open(), await open()];
      const results = await Promise.all(
        stores.flatMap((s, i) =>
          [0, 1, 2].map((j) => s.acquireLock(lock({ holder: `h${i}-${j}`, pid: 1000 + i * 10 + j }))),
        ),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const holder = await stores[0].getLock("shop", "staging");
      for (const r of results) if (!r.ok) expect(r.holder).toEqual(holder);
    });
  });

  describe("events", () => {
    it("assigns increasing ids and pages with afterId", async () => {
      const s = await open();
      const ids: number[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push(await s.addEvent(event({ message: `e${i}`, env: i % 2 ? "production" : "staging" })));
      }
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(ids).size).toBe(7);

      const all = await s.listEvents("shop");
      expect(all.map((e) => e.message)).toEqual(["e0", "e1", "e2", "e3", "e4", "e5", "e6"]);
      const staging = await s.listEvents("shop", "staging");
      expect(staging.map((e) => e.message)).toEqual(["e0", "e2", "e4", "e6"]);

      const page1 = await s.listEvents("shop", undefined, { afterId: 0, limit: 3 });
      expect(page1.map((e) => e.message)).toEqual(["e0", "e1", "e2"]);
      const page2 = await s.listEvents("shop", undefined, { afterId: page1[2].id, limit: 3 });
      expect(page2.map((e) => e.message)).toEqual(["e3", "e4", "e5"]);
      const page3 = await s.listEvents("shop", undefined, { afterId: page2[2].id, limit: 3 });
      expect(page3.map((e) => e.message)).toEqual(["e6"]);
      expect(await s.listEvents("shop", undefined, { afterId: page3[0].id })).toEqual([]);
      expect(await s.listEvents("blog")).toEqual([]);
    });

    it("returns the newest events, oldest first, when only a limit is given", async () => {
      const s = await open();
      for (let i = 0; i < 5; i++) await s.addEvent(event({ message: `e${i}` }));
      const last = await s.listEvents("shop", "staging", { limit: 2 });
      expect(last.map((e) => e.message)).toEqual(["e3", "e4"]);
    });

    it("keeps every field of an event", async () => {
      const s = await open();
      const e = event({
        kind: "analysis.failed",
        severity: "critical",
        service: "api",
        revision: 4,
        message: "error-rate 3% > 1%",
        data: { metric: "error-rate", value: 0.03, samples: [0.02, 0.04] },
      });
      const id = await s.addEvent(e);
      expect(await s.listEvents("shop", "staging")).toEqual([{ ...e, id }]);
      const bare = await s.addEvent(event());
      const [got] = await s.listEvents("shop", "staging", { afterId: id });
      expect(got).toEqual({ ...event(), id: bare });
      expect(got).not.toHaveProperty("service");
      expect(got).not.toHaveProperty("data");
    });
  });

  describe("meta", () => {
    it("sets, overwrites and reads values", async () => {
      const s = await open();
      expect(await s.getMeta("proxy.port")).toBeUndefined();
      await s.setMeta("proxy.port", "41234");
      await s.setMeta("proxy.port", "41235");
      await s.setMeta("daemon.facts", JSON.stringify({ pid: 1 }));
      expect(await s.getMeta("proxy.port")).toBe("41235");
      expect(await (await open()).getMeta("daemon.facts")).toBe('{"pid":1}');
    });
  });

  describeRecords(open);

  describe("migrations", () => {
    it("re-opens an existing store without re-applying migrations or losing data", async () => {
      const s = await open();
      const r = await s.createRevision(newRevision({ status: "deployed" }));
      await s.setMeta("k", "v");
      await s.close();
      const again = await Promise.all([open(), open(), open()]);
      for (const a of again) {
        expect(await a.currentRevision("shop", "staging")).toEqual(r);
        expect(await a.getMeta("k")).toBe("v");
      }
      expect((await again[0].createRevision(newRevision())).number).toBe(2);
    });

    it("lets several connections open a brand-new store at the same time", async () => {
      const stores = await Promise.all([open(), open(), open()]);
      await Promise.all(stores.map((s, i) => s.setMeta(`k${i}`, String(i))));
      expect(await stores[0].getMeta("k2")).toBe("2");
    });
  });
}
