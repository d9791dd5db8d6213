/**
 * Two machines on one PostgreSQL store: a silence one machine writes holds back the alerts
 * another machine's notifier groups, and its end there lets them through (a real server).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
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

/** pg_ctl on the test server's data directory, as the postgres user when we are root. */
function pgCtl(args: string[]): void {
  const root = process.getuid?.() === 0;
  const id = (flag: string) =>
    Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const r = spawnSync(join(server.binDir, "pg_ctl"), ["-D", join(server.dir, "data"), ...args], {
    encoding: "utf8",
    timeout: 60_000,
    ...(root ? { uid: id("-u"), gid: id("-g") } : {}),
  });
  if (r.status !== 0) throw new Error(`pg_ctl ${args.join(" ")}: ${r.stderr || r.stdout}`);
}

const pgStop = () => pgCtl(["-m", "immediate", "-w", "stop"]);
const pgStart = () =>
  pgCtl([
    "-l",
    join(server.dir, "log"),
    "-w",
    "-t",
    "60",
    "-o",
    `-p ${server.port} -k ${server.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
    "start",
  ]);

describe("silences on a shared PostgreSQL store", () => {
  it("a silence added on one machine holds back alerts grouped on another", async () => {
    const schema = `sil${process.pid}`;
    const recv = await startHttpReceiver();
    const storeA = await PostgresStore.open({ url: server.url, schema });
    const storeB = await PostgresStore.open({ url: server.url, schema });
    // Machine B: a notifier with its own outbox file, its silences in the shared store.
    const h = harness(
      { channels: { hook: { type: "webhook", url: recv.url } }, groupWait: 0 },
      { silences: { store: storeB, project: "shop", env: "production" } },
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

  it("while PostgreSQL is down the silences read last apply; once it is back, fresh ones do", async () => {
    const schema = `silpg${process.pid}`;
    const recv = await startHttpReceiver();
    const store = await PostgresStore.open({ url: server.url, schema });
    const h = harness(
      { channels: { hook: { type: "webhook", url: recv.url } }, groupWait: 0 },
      { silences: { store, project: "shop", env: "production" } },
    );
    const messages = () =>
      recv.requests.flatMap((q) =>
        (JSON.parse(q.body) as { alerts: { message: string }[] }).alerts.map((a) => a.message),
      );
    try {
      const sil = await h.notifier.addSilence({
        matchers: { service: "api" },
        duration: "1h",
        author: "kim",
        comment: "api maintenance",
      });
      h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api held" }));
      await h.notifier.flush();
      expect(messages()).toEqual([]);

      pgStop();
      try {
        h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api held while down" }));
        h.notifier.emit(ev({ kind: "deploy.failed", service: "web", message: "web while down" }));
        await h.notifier.flush();
        expect(messages()).toEqual(["web while down"]);
        expect(h.logs.some((l) => /could not read silences/.test(l.msg))).toBe(true);
      } finally {
        pgStart();
      }

      await store.setSilenceEnd("shop", "production", sil.id, new Date().toISOString());
      h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api after" }));
      await h.notifier.flush();
      expect(messages()).toEqual(["web while down", "api after"]);
    } finally {
      await h.close();
      await recv.close();
      await store.close();
    }
  });
});
