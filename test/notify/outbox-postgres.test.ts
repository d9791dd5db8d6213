/**
 * The outbox in a PostgreSQL store that goes down: an alert raised meanwhile waits in the local
 * spool (with a "store.unreachable" alert beside it), and once the server is back both are
 * drained into the store and delivered exactly once to a real receiver. A real server stopped
 * and started with pg_ctl; the hub as the daemon runs it.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotifierHub } from "../../src/notify/hub.js";
import { loadSpecFile } from "../../src/spec/load.js";
import { resolveSpec } from "../../src/spec/resolve.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { waitFor } from "../support/ports.js";
import { startPostgres } from "../support/postgres.js";
import type { PgServer } from "../support/postgres.js";
import { startHttpReceiver } from "../support/receivers.js";
import type { HttpReceiver } from "../support/receivers.js";

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

function resolution(dir: string, url: string) {
  writeFileSync(
    join(dir, "slipway.yaml"),
    `project: shop
environments:
  production: { target: process }
services:
  api: { run: node app.js, port: 3000 }
alerts:
  channels:
    hook: { type: webhook, url: "${url}" }
  groupBy: ["..."]
  groupWait: 0s
`,
  );
  return resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), { env: "production", version: "v1", vars: {} });
}

const received = (r: HttpReceiver) =>
  r.requests.flatMap((q) =>
    (JSON.parse(q.body) as { alerts: { labels: { event: string }; message: string }[] }).alerts.map(
      (a) => `${a.labels.event}: ${a.message}`,
    ),
  );

describe("alerts while the PostgreSQL store is down", () => {
  it("are spooled locally, then drained and delivered exactly once when it returns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-spool-"));
    const recv = await startHttpReceiver();
    const store = await PostgresStore.open({ url: server.url, schema: `spool${process.pid}` });
    const hub = new NotifierHub({ home: dir, store, spoolRetryMs: 200 });
    try {
      await hub.start();
      await hub.configure(resolution(dir, recv.url));
      hub.onEvent("shop", "production", {
        type: "alert",
        kind: "deploy.failed",
        severity: "critical",
        message: "before the outage",
      });
      await waitFor(() => recv.requests.length === 1, { what: "the first alert" });

      server.pause();
      let resumed = false;
      try {
        hub.onEvent("shop", "production", {
          type: "alert",
          kind: "deploy.failed",
          severity: "critical",
          message: "during the outage",
        });
        const spooled = await waitFor(
          () => {
            const s = hub.spooled().map((a) => a.event.kind);
            return s.includes("deploy.failed") && s.includes("store.unreachable") && s;
          },
          { what: "the alerts in the spool", timeoutMs: 20_000 },
        );
        expect(spooled.filter((k) => k === "store.unreachable")).toHaveLength(1);
        expect(statSync(join(dir, "notify", "spool.jsonl")).mode & 0o777).toBe(0o600);
        // Nothing is delivered while the store is down: the outbox is in the store.
        await new Promise((r) => setTimeout(r, 500));
        expect(recv.requests).toHaveLength(1);
        server.resume();
        resumed = true;
      } finally {
        if (!resumed) server.resume();
      }

      await waitFor(() => received(recv).length >= 3, {
        what: "the spooled alerts delivered",
        timeoutMs: 30_000,
      });
      await new Promise((r) => setTimeout(r, 1000)); // anything delivered twice would arrive by now
      const got = received(recv);
      expect(got).toHaveLength(3);
      expect(got[0]).toBe("deploy.failed: before the outage");
      expect(got).toContain("deploy.failed: during the outage");
      expect(
        got.filter((m) => /^store\.unreachable: the Slipway store could not be reached at /.test(m)),
      ).toHaveLength(1);
      expect(hub.spooled()).toEqual([]);
      const [{ c }] = await store.outbox.all<{ c: number }>(
        "SELECT COUNT(*) AS c FROM outbox_deliveries WHERE status = 'sent'",
      );
      expect(c).toBe(3);
    } finally {
      await hub.close();
      await store.close();
      await recv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
