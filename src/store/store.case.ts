/**
 * The store conformance suite: every Store implementation runs it (test/store/*.test.ts).
 * Each test gets a fresh, empty database from the factory; `open()` may be called several
 * times to get independent connections to that same database.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Instance } from "../drivers/driver.js";
import { StoreError } from "./errors.js";
import { describeRecords } from "./records.case.js";
import type { EventRecord, JournalStep, LockInfo, Revision, Store } from "./store.js";

export interface StoreFixture {
  /** A new connection to the fixture's database (migrating it when new). */
  open(): Promise<Store>;
  /** Remove the database; stores opened by the suite are closed before this is called. */
  dispose(): Promise<void>;
}

type NewRevision = Omit<Revision, "number" | "createdAt">;

export function newRevision(over: Partial<NewRevision> = {}): NewRevision {
  return {
    project: "shop",
    env: "staging",
    version: "v1",
    status: "in-progress",
    snapshot: { services: { api: { env: { DATABASE_URL: "${DATABASE_URL}" } } }, list: [1, "two", null] },
    services: ["api", "web"],
    actor: "alice",
    description: "deploy v1",
    skipChecks: false,
    facts: {},
    ...over,
  };
}

function instance(over: Partial<Instance> = {}): Instance {
  return {
    id: "api-stable-0",
    project: "shop",
    env: "staging",
    service: "api",
    revision: 1,
    version: "v1",
    slot: "stable",
    index: 0,
    state: "running",
    host: "127.0.0.1",
    port: 41000,
    pid: 1234,
    appPid: 1235,
    startedAt: "2024-05-01T10:00:00.000Z",
    restarts: 0,
    meta: { startTime: 987654, release: "/x/releases/1" },
    ...over,
  };
}

function lock(over: Partial<LockInfo> = {}): LockInfo {
  return {
    project: "shop",
    env: "staging",
    holder: "daemon:host:100",
    operation: "deploy",
    pid: 100,
    acquiredAt: "2024-05-01T10:00:00.000Z",
    ...over,
  };
}

function event(over: Partial<EventRecord> = {}): EventRecord {
  return {
    project: "shop",
    env: "staging",
    time: "2024-05-01T10:00:00.000Z",
    kind: "deploy.started",
    severity: "info",
    message: "deploy started",
    ...over,
  };
}

export function runStoreConformance(name: string, factory: () => Promise<StoreFixture>): void {
  describe(`store conformance: ${name}`, () => {
    let fixture: Promise<StoreFixture> | undefined;
    const opened: Store[] = [];

    async function open(): Promise<Store> {
      fixture ??= factory();
      const s = await (await fixture).open();
      opened.push(s);
      return s;
    }

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      if (fixture) await (await fixture).dispose();
      fixture = undefined;
    });

    describe("revisions", () => {
      it("numbers revisions from 1 per project and environment", async () => {
        const s = await open();
        const a1 = await s.createRevision(newRevision());
        const a2 = await s.createRevision(newRevision({ version: "v2" }));
        const b1 = await s.createRevision(newRevision({ env: "production" }));
        const c1 = await s.createRevision(newRevision({ project: "blog" }));
        expect([a1.number, a2.number, b1.number, c1.number]).toEqual([1, 2, 1, 1]);
        expect(Date.parse(a1.createdAt)).not.toBeNaN();
      });

      it("returns what was stored, field for field", async () => {
        const s = await open();
        const input = newRevision({
          status: "deployed",
          rollbackOf: 3,
          skipChecks: true,
          finishedAt: "2024-05-01T10:05:00.000Z",
          reason: "manual",
          facts: { backup: { id: "b-1", bytes: 1024 }, checks: ["disk", "tls"] },
        });
        const created = await s.createRevision(input);
        expect(created).toMatchObject(input);
        const got = await s.getRevision("shop", "staging", created.number);
        expect(got).toEqual(created);
        expect(await s.getRevision("shop", "staging", 99)).toBeUndefined();
        expect(await s.getRevision("shop", "production", created.number)).toBeUndefined();
      });

      it("leaves optional fields out when they were not given", async () => {
        const s = await open();
        const r = await s.createRevision(newRevision());
        const got = await s.getRevision("shop", "staging", r.number);
        expect(got).toBeDefined();
        expect(got).not.toHaveProperty("rollbackOf");
        expect(got).not.toHaveProperty("finishedAt");
        expect(got).not.toHaveProperty("reason");
        expect(got?.skipChecks).toBe(false);
        expect(got?.facts).toEqual({});
      });

      it("hands out distinct consecutive numbers to concurrent writers on several connections", async () => {
        const stores = [await open(), await open(), await open()];
        const perStore = 6;
        const created = await Promise.all(
          stores.flatMap((s, i) =>
            Array.from({ length: perStore }, (_, j) =>
              s.createRevision(newRevision({ version: `c${i}-${j}` })),
            ),
          ),
        );
        const numbers = created.map((r) => r.number).sort((a, b) => a - b);
        expect(numbers).toEqual(Array.from({ length: stores.length * perStore }, (_, i) => i + 1));
        const listed = await stores[0].listRevisions("shop", "staging");
        expect(listed.map((r) => r.number)).toEqual([...numbers].reverse());
        for (const r of created) expect(listed.find((l) => l.number === r.number)?.version).toBe(r.version);
      });

      it("updates status, finishedAt, reason and facts, and nothing else", async () => {
        const s = await open();
        const r = await s.createRevision(newRevision());
        await s.updateRevision("shop", "staging", r.number, {
          status: "failed",
          finishedAt: "2024-05-01T11:00:00.000Z",
          reason: "health check of api failed",
          facts: { backup: "b-7" },
        });
        const got = await s.getRevision("shop", "staging", r.number);
        expect(got).toEqual({
          ...r,
          status: "failed",
          finishedAt: "2024-05-01T11:00:00.000Z",
          reason: "health check of api failed",
          facts: { backup: "b-7" },
        });
        await s.updateRevision("shop", "staging", r.number, { status: "rolled-back" });
        expect((await s.getRevision("shop", "staging", r.number))?.reason).toBe("health check of api failed");
      });

      it("refuses to update a revision that does not exist", async () => {
        const s = await open();
        await expect(s.updateRevision("shop", "staging", 42, { status: "deployed" })).rejects.toThrow(
          StoreError,
        );
        await expect(s.updateRevision("shop", "staging", 42, { status: "deployed" })).rejects.toThrow(
          /revision 42 of shop\/staging/,
        );
      });

      it("reports the newest deployed revision as current", async () => {
        const s = await open();
        expect(await s.currentRevision("shop", "staging")).toBeUndefined();
        await s.createRevision(newRevision({ status: "deployed", version: "v1" }));
        await s.createRevision(newRevision({ status: "deployed", version: "v2" }));
        await s.createRevision(newRevision({ status: "failed", version: "v3" }));
        await s.createRevision(newRevision({ status: "in-progress", version: "v4" }));
        await s.createRevision(newRevision({ env: "production", status: "deployed", version: "p9" }));
        expect((await s.currentRevision("shop", "staging"))?.version).toBe("v2");
        await s.updateRevision("shop", "staging", 2, { status: "superseded" });
        expect((await s.currentRevision("shop", "staging"))?.number).toBe(1);
        await s.updateRevision("shop", "staging", 4, { status: "deployed" });
        expect((await s.currentRevision("shop", "staging"))?.version).toBe("v4");
      });

      it("lists revisions newest first, honouring the limit", async () => {
        const s = await open();
        for (let i = 1; i <= 5; i++) await s.createRevision(newRevision({ version: `v${i}` }));
        await s.createRevision(newRevision({ env: "production" }));
        const all = await s.listRevisions("shop", "staging");
        expect(all.map((r) => r.version)).toEqual(["v5", "v4", "v3", "v2", "v1"]);
        const two = await s.listRevisions("shop", "staging", { limit: 2 });
        expect(two.map((r) => r.number)).toEqual([5, 4]);
        expect(await s.listRevisions("shop", "nowhere")).toEqual([]);
      });
    });

    describe("journal", () => {
      const step = (seq: number, over: Partial<JournalStep> = {}): JournalStep => ({
        project: "shop",
        env: "staging",
        revision: 1,
        seq,
        kind: "start-candidate",
        service: "api",
        description: `step ${seq}`,
        status: "pending",
        ...over,
      });

      it("returns the steps of a revision in plan order", async () => {
        const s = await open();
        await s.journalAppend(step(2));
        await s.journalAppend(step(0, { kind: "lock", service: undefined }));
        await s.journalAppend(step(1, { data: { previous: { route: ["127.0.0.1:4000"] } } }));
        await s.journalAppend(step(0, { revision: 2 }));
        const steps = await s.journal("shop", "staging", 1);
        expect(steps.map((x) => x.seq)).toEqual([0, 1, 2]);
        expect(steps[0]).toEqual(step(0, { kind: "lock", service: undefined }));
        expect(steps[0]).not.toHaveProperty("service");
        expect(steps[1].data).toEqual({ previous: { route: ["127.0.0.1:4000"] } });
        expect(await s.journal("shop", "staging", 2)).toHaveLength(1);
        expect(await s.journal("shop", "production", 1)).toEqual([]);
      });

      it("updates a step with a partial patch", async () => {
        const s = await open();
        await s.journalAppend(step(0));
        await s.journalUpdate("shop", "staging", 1, 0, {
          status: "running",
          startedAt: "2024-05-01T10:00:00.000Z",
        });
        await s.journalUpdate("shop", "staging", 1, 0, {
          status: "ok",
          finishedAt: "2024-05-01T10:00:01.500Z",
          durationMs: 1500.25,
          message: "api healthy",
          data: { instances: ["api-candidate-0"] },
        });
        expect(await s.journal("shop", "staging", 1)).toEqual([
          step(0, {
            status: "ok",
            startedAt: "2024-05-01T10:00:00.000Z",
            finishedAt: "2024-05-01T10:00:01.500Z",
            durationMs: 1500.25,
            message: "api healthy",
            data: { instances: ["api-candidate-0"] },
          }),
        ]);
      });

      it("replaces a step appended twice and refuses to update a missing one", async () => {
        const s = await open();
        await s.journalAppend(step(0, { status: "running" }));
        await s.journalAppend(step(0, { status: "failed", message: "boom" }));
        const steps = await s.journal("shop", "staging", 1);
        expect(steps).toHaveLength(1);
        expect(steps[0]).toMatchObject({ status: "failed", message: "boom" });
        await expect(s.journalUpdate("shop", "staging", 1, 9, { status: "ok" })).rejects.toThrow(StoreError);
      });
    });

    describe("instances", () => {
      it("puts (upserts), lists and removes instances", async () => {
        const s = await open();
        await s.putInstance(instance());
        await s.putInstance(instance({ id: "web-stable-0", service: "web", port: 41001 }));
        await s.putInstance(instance({ id: "api-stable-0", env: "production" }));
        await s.putInstance(instance({ project: "blog", id: "blog-0", service: "blog" }));
        expect((await s.listInstances("shop", "staging")).map((i) => i.id)).toEqual([
          "api-stable-0",
          "web-stable-0",
        ]);
        expect(await s.listInstances("shop")).toHaveLength(3);
        expect(await s.allInstances()).toHaveLength(4);
        expect((await s.listInstances("shop", "staging"))[0]).toEqual(instance());

        const crashed = instance({
          state: "crashloop",
          restarts: 5,
          lastExit: { code: 1, signal: null, at: "2024-05-01T10:01:00.000Z" },
        });
        await s.putInstance(crashed);
        const after = await s.listInstances("shop", "staging");
        expect(after).toHaveLength(2);
        expect(after[0]).toEqual(crashed);

        await s.removeInstance("shop", "staging", "api-stable-0");
        await s.removeInstance("shop", "staging", "not-there");
        expect((await s.listInstances("shop", "staging")).map((i) => i.id)).toEqual(["web-stable-0"]);
        expect(await s.listInstances("shop", "production")).toHaveLength(1);
      });
    });

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
  });
}
