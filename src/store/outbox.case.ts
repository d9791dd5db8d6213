/**
 * Conformance for the alert outbox in the store (the `outbox` SQL handle, migration 0004), run
 * from runStoreConformance (store.case.ts) against every implementation: the handle's promises
 * (numbers, RETURNING, transactions), atomic claims, and the notifier itself on the store —
 * two notifiers on one outbox (two daemons sharing a store) deliver each alert once, and a
 * claim left by a previous daemon whose pid this process now has is delivered once.
 */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { Notifier } from "../notify/notifier.js";
import { outboxId } from "../notify/outbox.js";
import { alertsSchema } from "../spec/schema-alerts.js";
import { startHttpReceiver } from "../../test/support/receivers.js";
import type { HttpReceiver } from "../../test/support/receivers.js";
import { waitFor } from "../../test/support/ports.js";
import type { Store } from "./store.js";

export interface OutboxCaseOptions {
  /**
   * Two connections of one process may write at the same time (PostgreSQL). SQLite's writers
   * wait for each other synchronously, so there the two "daemons" share one connection.
   */
  concurrentConnections: boolean;
}

const T0 = 1_767_225_600_000; // 2026-01-01, a bigint in PostgreSQL

async function seedDelivery(s: Store, status = "pending"): Promise<{ outbox: number; delivery: number }> {
  const outbox = await outboxId(s.outbox, "shop", "staging");
  const [n] = await s.outbox.all<{ id: number }>(
    `INSERT INTO outbox_notifications (outbox, group_key, status, title, payload, created_at)
       VALUES (?, 'g', 'firing', 't', '{}', ?) RETURNING id`,
    [outbox, T0],
  );
  const [d] = await s.outbox.all<{ id: number }>(
    `INSERT INTO outbox_deliveries (outbox, notification_id, receiver, channel_type, status, next_attempt_at,
       created_at) VALUES (?, ?, 'hook', 'webhook', ?, ?, ?) RETURNING id`,
    [outbox, n.id, status, T0, T0],
  );
  return { outbox, delivery: d.id };
}

const CLAIM =
  "UPDATE outbox_deliveries SET status = 'sending', owner = ? WHERE id = ? AND status = 'pending'";

function notifier(store: Store, url: string): Notifier {
  return new Notifier({
    store,
    project: "shop",
    env: "staging",
    config: alertsSchema.parse({
      channels: { hook: { type: "webhook", url } },
      groupBy: ["..."],
      groupWait: 0,
    }),
    retry: { initialMs: 50, maxMs: 200 },
  });
}

function messages(r: HttpReceiver): string[] {
  return r.requests.flatMap((q) =>
    (JSON.parse(q.body) as { alerts: { message: string }[] }).alerts.map((a) => a.message),
  );
}

export function describeOutbox(open: () => Promise<Store>, opts: OutboxCaseOptions): void {
  describe("alert outbox", () => {
    it("returns ids and epoch-ms times as numbers, and one outbox per environment", async () => {
      const s = await open();
      const { outbox, delivery } = await seedDelivery(s);
      expect(await outboxId(s.outbox, "shop", "staging")).toBe(outbox);
      expect(await outboxId(s.outbox, "shop", "production")).not.toBe(outbox);
      const [row] = await s.outbox.all<Record<string, unknown>>(
        "SELECT * FROM outbox_deliveries WHERE id = ?",
        [delivery],
      );
      expect(row).toMatchObject({
        id: delivery,
        outbox,
        next_attempt_at: T0,
        attempts: 0,
        status: "pending",
      });
      const [c] = await s.outbox.all<{ c: number }>("SELECT COUNT(*) AS c FROM outbox_deliveries");
      expect(c.c).toBe(1);
      // Seen from another connection too.
      expect((await (await open()).outbox.all("SELECT id FROM outbox_deliveries")).length).toBe(1);
    });

    it("a transaction that throws leaves nothing; one that returns commits everything", async () => {
      const s = await open();
      const outbox = await outboxId(s.outbox, "shop", "staging");
      const insert =
        "INSERT INTO outbox_groups (outbox, key, route_index, receivers, send_resolved, group_labels, group_interval_ms, repeat_interval_ms, created_at, next_flush_at) VALUES (?, ?, 0, '[]', 0, '{}', 1, 1, ?, ?)";
      await expect(
        s.outbox.tx(async (t) => {
          await t.run(insert, [outbox, "a", T0, T0]);
          await t.tx((inner) => inner.run(insert, [outbox, "b", T0, T0]));
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await s.outbox.all("SELECT key FROM outbox_groups")).toEqual([]);
      const n = await s.outbox.tx(
        async (t) =>
          (await t.run(insert, [outbox, "a", T0, T0])) + (await t.run(insert, [outbox, "b", T0, T0])),
      );
      expect(n).toBe(2);
      expect(
        (await s.outbox.all<{ key: string }>("SELECT key FROM outbox_groups ORDER BY key")).map((r) => r.key),
      ).toEqual(["a", "b"]);
      // The store's other methods still work after (and beside) outbox transactions.
      await s.setMeta("k", "v");
      expect(await s.getMeta("k")).toBe("v");
    });

    it("of two claims on one pending delivery, exactly one wins", async () => {
      const a = await open();
      const b = opts.concurrentConnections ? await open() : a;
      const { delivery } = await seedDelivery(a);
      const slow = a.outbox.tx(async (t) => {
        const n = await t.run(CLAIM, ["a", delivery]);
        await new Promise((r) => setTimeout(r, 100)); // hold the row while the other claims
        return n;
      });
      const fast = b.outbox.tx((t) => t.run(CLAIM, ["b", delivery]));
      const won = await Promise.all([slow, fast]);
      expect(won.sort()).toEqual([0, 1]);
    });

    it("two notifiers on one outbox (two daemons on a shared store) deliver each alert once", async () => {
      const recv = await startHttpReceiver();
      const a = await open();
      const b = opts.concurrentConnections ? await open() : a;
      const na = notifier(a, recv.url);
      const nb = notifier(b, recv.url);
      na.start();
      nb.start();
      try {
        const N = 30;
        await Promise.all(
          Array.from({ length: N }, (_, i) =>
            (i % 2 ? na : nb).emit({
              project: "shop",
              env: "staging",
              kind: "deploy.failed",
              severity: "critical",
              message: `m${i}`,
              data: { labels: { i } },
            }),
          ),
        );
        await Promise.all([na.flush({ timeoutMs: 20_000 }), nb.flush({ timeoutMs: 20_000 })]);
        await waitFor(async () => (await na.stats()).sent === N, { what: "all sent", timeoutMs: 20_000 });
        const got = messages(recv).sort();
        expect(got).toEqual(Array.from({ length: N }, (_, i) => `m${i}`).sort());
      } finally {
        await na.stop();
        await nb.stop();
        await recv.close();
      }
    });

    it("a claim left under this process's pid but another start time is delivered exactly once", async () => {
      const recv = await startHttpReceiver();
      const s = await open();
      const { delivery } = await seedDelivery(s);
      const payload = JSON.stringify({
        groupKey: "g",
        status: "firing",
        groupLabels: {},
        commonLabels: {},
        alerts: [
          {
            status: "firing",
            labels: {},
            severity: "critical",
            message: "left behind",
            startsAt: new Date(T0).toISOString(),
            count: 1,
            fingerprint: "f",
          },
        ],
        createdAt: new Date(T0).toISOString(),
      });
      await s.outbox.run("UPDATE outbox_notifications SET payload = ?", [payload]);
      // A previous daemon (pid reused: the same pid as ours, started at another time) had claimed it.
      await s.outbox.run(
        `UPDATE outbox_deliveries SET status = 'sending', attempts = 1, owner = 'previous-daemon',
           owner_host = ?, owner_pid = ?, owner_start = '1', claimed_at = ? WHERE id = ?`,
        [hostname(), process.pid, Date.now(), delivery],
      );
      const n = notifier(s, recv.url);
      n.start();
      try {
        await waitFor(async () => (await n.stats()).sent === 1, {
          what: "the orphan delivered",
          timeoutMs: 20_000,
        });
        await n.flush({ timeoutMs: 5_000 });
        expect(messages(recv)).toEqual(["left behind"]);
        const [d] = await n.listDeliveries();
        expect(d).toMatchObject({ id: delivery, status: "sent", attempts: 2 });
      } finally {
        await n.stop();
        await recv.close();
      }
    });
  });
}
