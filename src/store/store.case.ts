/**
 * The store conformance suite: every Store implementation runs it (test/store/*.test.ts).
 * Each test gets a fresh, empty database from the factory; `open()` may be called several
 * times to get independent connections to that same database.
 */
import { afterEach, describe, expect, it } from "vitest";
import { StoreError } from "./errors.js";
import { describeLocksEventsMeta } from "./state.case.js";
import { describeUsers } from "./users.case.js";
import { describeOutbox } from "./outbox.case.js";
import type { OutboxCaseOptions } from "./outbox.case.js";
import { instance, newRevision, type StoreFixture } from "./fixtures.case.js";

export { newRevision, type StoreFixture };
import type { JournalStep, Store } from "./store.js";

export function runStoreConformance(
  name: string,
  factory: () => Promise<StoreFixture>,
  outbox: OutboxCaseOptions = { concurrentConnections: false },
): void {
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

    describeLocksEventsMeta(open);
    describeUsers(open);
    describeOutbox(open, outbox);
  });
}
