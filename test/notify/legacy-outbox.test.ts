/**
 * An outbox file of an earlier Slipway (`notify/<project>@<env>.db`) is imported into the store
 * once: its configuration, its pending and interrupted deliveries (ids renumbered) with their
 * attempts; the file is renamed `.imported`, and the daemon delivers what was waiting.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { NotifierHub } from "../../src/notify/hub.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";
import { openStore } from "../../src/store/open.js";
import { waitFor } from "../support/ports.js";
import { startHttpReceiver } from "../support/receivers.js";
import { legacyOutboxFile, writeLegacyOutbox } from "./legacy-outbox.js";
import { join } from "node:path";

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

function payload(message: string): string {
  const labels = { project: "shop", environment: "production", event: "deploy.failed" };
  return JSON.stringify({
    groupKey: "g",
    status: "firing",
    groupLabels: labels,
    commonLabels: labels,
    alerts: [
      {
        status: "firing",
        labels,
        severity: "critical",
        message,
        startsAt: new Date().toISOString(),
        count: 1,
        fingerprint: message,
      },
    ],
    createdAt: new Date().toISOString(),
  });
}

describe("old outbox files", () => {
  it("are imported into the store once and what waited in them is delivered once", async () => {
    const home = mkdtempSync(join(tmpdir(), "slipway-legacy-outbox-"));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const recv = await startHttpReceiver();
    cleanups.push(() => recv.close());
    const file = legacyOutboxFile(home);
    const alerts = alertsSchema.parse({
      channels: { hook: { type: "webhook", url: recv.url } },
      groupWait: 0,
    });
    const db = writeLegacyOutbox(file, { alerts });
    const now = Date.now();
    const note = db.prepare(
      `INSERT INTO notify_notifications (id, group_key, status, title, project, environment, payload, created_at)
         VALUES (?, 'g', 'firing', 't', 'shop', 'production', ?, ?)`,
    );
    const delivery = db.prepare(
      `INSERT INTO notify_deliveries (id, notification_id, receiver, channel_type, status, attempts, next_attempt_at,
         created_at, sent_at, owner_pid, owner) VALUES (?, ?, 'hook', 'webhook', ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Ids the store will renumber: 7 sent long ago, 8 waiting, 9 claimed by a process that died.
    note.run(70, payload("sent before"), now - 60_000);
    note.run(80, payload("waiting"), now - 1000);
    note.run(90, payload("interrupted"), now - 1000);
    delivery.run(7, 70, "sent", 1, now, now - 60_000, now - 60_000, null, null);
    delivery.run(8, 80, "pending", 1, now, now - 1000, null, null, null);
    delivery.run(9, 90, "sending", 1, now, now - 1000, null, 999_999, "dead");
    db.prepare(
      "INSERT INTO notify_attempts (delivery_id, attempt, at, duration_ms, ok, detail) VALUES (8, 1, ?, 5, 0, 'HTTP 503')",
    ).run(now - 1000);
    db.close();

    const store = await openStore({ home });
    cleanups.push(() => store.close());
    const hub = new NotifierHub({ home, store });
    await hub.start();
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.imported`)).toBe(true);
    await waitFor(() => recv.requests.length >= 2, { what: "the waiting deliveries" });
    const log = await waitFor(
      async () => {
        const l = await hub.listDeliveries("shop", "production");
        return l.filter((d) => d.status === "sent").length === 3 && l;
      },
      { what: "all sent" },
    );
    expect(log.map((d) => d.attempts).sort()).toEqual([1, 2, 2]);
    await hub.close();

    // A second start imports nothing again and sends nothing again.
    const again = new NotifierHub({ home, store });
    await again.start();
    await new Promise((r) => setTimeout(r, 500));
    expect((await again.listDeliveries("shop", "production")).length).toBe(3);
    await again.close();
    const messages = recv.requests.map(
      (q) => (JSON.parse(q.body) as { alerts: { message: string }[] }).alerts[0].message,
    );
    expect(messages.sort()).toEqual(["interrupted", "waiting"]);
  });
});
