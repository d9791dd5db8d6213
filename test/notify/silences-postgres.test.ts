/**
 * Two machines on one PostgreSQL store: a silence one machine writes holds back the alerts
 * another machine's notifier groups, and its end there lets them through (a real server).
 * (A store outage: outbox-postgres.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { startPostgres } from "../support/postgres.js";
import type { PgServer } from "../support/postgres.js";
import { startHttpReceiver } from "../support/receivers.js";
import { ev, harness } from "./helpers.js";

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describe("silences on a shared PostgreSQL store", () => {
  it("a silence added on one machine holds back alerts grouped on another", async () => {
    const schema = `sil${process.pid}`;
    const recv = await startHttpReceiver();
    const storeA = await PostgresStore.open({ url: server.url, schema });
    const storeB = await PostgresStore.open({ url: server.url, schema });
    // Machine B: a notifier whose outbox and silences are in the shared store.
    const h = harness(
      { channels: { hook: { type: "webhook", url: recv.url } }, groupWait: 0 },
      { store: storeB },
    );
    try {
      // Machine A's silence, straight in the store: B lists it.
      await storeA.addSilence({
        id: "sil-seed0000seed",
        project: "shop",
        env: "production",
        matchers: { service: ["db"] },
        startsAt: new Date(Date.now() - 1000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
        author: "kim",
        comment: "seed",
        createdAt: new Date(Date.now() - 1000).toISOString(),
      });
      expect((await h.notifier.listSilences()).map((s) => s.id)).toEqual(["sil-seed0000seed"]);

      const added = await h.notifier.addSilence({
        matchers: { service: "api" },
        duration: "1h",
        author: "lee",
        comment: "api maintenance",
      });
      expect((await storeA.getSilence("shop", "production", added.id))?.author).toBe("lee");

      h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api held" }));
      h.notifier.emit(ev({ kind: "deploy.failed", service: "db", message: "db held" }));
      h.notifier.emit(ev({ kind: "deploy.failed", service: "web", message: "web failed" }));
      await h.notifier.flush();
      const messages = recv.requests.flatMap((q) =>
        (JSON.parse(q.body) as { alerts: { message: string }[] }).alerts.map((a) => a.message),
      );
      expect(messages).toEqual(["web failed"]);

      // Machine B's silence is in the store machine A reads; A ends it, and B's alerts flow again.
      await storeA.setSilenceEnd("shop", "production", added.id, new Date().toISOString());
      h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api again" }));
      await h.notifier.flush();
      expect(recv.requests).toHaveLength(2);
    } finally {
      await h.close();
      await recv.close();
      await storeA.close();
      await storeB.close();
    }
  });
});
