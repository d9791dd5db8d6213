/**
 * An earlier Slipway kept each environment's outbox in its own SQLite file,
 * `SLIPWAY_HOME/notify/<project>@<env>.db`. At the hub's first use every such file is copied
 * into the store once — configuration, open groups, alerts, notifications, deliveries with their
 * attempts (ids renumbered by the store), and silences — and renamed `<file>.imported`, so the
 * import runs once per machine and the old file stays for whoever wants to look at it.
 * Deliveries a dead process had claimed come back as pending (sent again, same as a restart).
 */
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import type { Sql } from "../store/sql.js";
import type { NotifyStore } from "./notifier-types.js";
import { findOutbox, outboxId, writeHubConfig } from "./outbox.js";
import { importLegacySilences } from "./silences.js";

type Row = Record<string, unknown>;
type Value = string | number | null;

const GROUP_COLS = [
  "key",
  "route_index",
  "receivers",
  "mention",
  "send_resolved",
  "group_labels",
  "group_interval_ms",
  "repeat_interval_ms",
  "created_at",
  "next_flush_at",
  "last_notified_at",
];
const ALERT_COLS = [
  "group_key",
  "fingerprint",
  "project",
  "environment",
  "service",
  "event",
  "labels",
  "severity",
  "message",
  "revision",
  "data",
  "stateful",
  "status",
  "count",
  "starts_at",
  "ends_at",
  "received_at",
  "notified",
  "silenced_by",
];
const NOTIFICATION_COLS = [
  "group_key",
  "status",
  "title",
  "project",
  "environment",
  "payload",
  "test",
  "created_at",
  "first_event_at",
];
const DELIVERY_COLS = [
  "receiver",
  "channel_type",
  "status",
  "attempts",
  "next_attempt_at",
  "created_at",
  "sent_at",
  "last_error",
  "detail",
  "done",
];
const ATTEMPT_COLS = ["attempt", "at", "duration_ms", "ok", "detail"];

const marks = (n: number) => Array.from({ length: n }, () => "?").join(",");
const values = (r: Row, cols: string[]) => cols.map((c) => (r[c] ?? null) as Value);

/** Imports every old outbox file under `<home>/notify`; returns how many files were imported. */
export async function importLegacyOutboxes(home: string, store: NotifyStore, log: Logger): Promise<number> {
  const dir = join(home, "notify");
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".db"))) {
    const file = join(dir, f);
    try {
      await importFile(file, f, store, log);
      renameSync(file, `${file}.imported`);
      for (const extra of ["-wal", "-shm"]) rmSync(`${file}${extra}`, { force: true });
      n++;
    } catch (e) {
      // The file stays; the next start tries again.
      log.error(`alerts: could not import the old outbox ${file}: ${(e as Error).message}`);
    }
  }
  return n;
}

async function importFile(file: string, name: string, store: NotifyStore, log: Logger): Promise<void> {
  const { default: Sqlite } = await import("better-sqlite3");
  // Opened read-write on purpose: closing folds a leftover -wal file into the database.
  const db = new Sqlite(file, { fileMustExist: true, timeout: 10_000 });
  try {
    const has = (t: string) =>
      !!db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?").get(t);
    const hub = has("hub_config")
      ? (db.prepare("SELECT project, env, alerts, held FROM hub_config WHERE id = 1").get() as
          Row | undefined)
      : undefined;
    const [p, e] = name.slice(0, -3).split("@").map(decodeURIComponent);
    const project = (hub?.project as string | undefined) ?? p;
    const env = (hub?.env as string | undefined) ?? e;
    if (!project || !env) throw new Error("cannot tell its project and environment");
    await importLegacySilences(store, project, env, db);
    const id = await outboxId(store.outbox, project, env);
    if (hub?.alerts && !(await findOutbox(store.outbox, project, env))?.alerts) {
      const held = hub.held ? (JSON.parse(hub.held as string) as string[]) : [];
      await writeHubConfig(store.outbox, id, hub.alerts as string, held);
    }
    if (!has("notify_deliveries")) return;
    const rows = (t: string) => db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all() as Row[];
    const counts = await store.outbox.tx((t) =>
      copyRows(t, id, {
        groups: rows("notify_groups"),
        alerts: rows("notify_alerts"),
        notifications: rows("notify_notifications"),
        deliveries: rows("notify_deliveries"),
        attempts: rows("notify_attempts"),
      }),
    );
    log.info("alert outbox imported into the store", { file, project, env, ...counts });
  } finally {
    db.close();
  }
}

interface OldRows {
  groups: Row[];
  alerts: Row[];
  notifications: Row[];
  deliveries: Row[];
  attempts: Row[];
}

async function copyRows(t: Sql, outbox: number, old: OldRows): Promise<Record<string, number>> {
  for (const g of old.groups)
    await t.run(
      `INSERT INTO outbox_groups (outbox, ${GROUP_COLS.join(",")}) VALUES (?,${marks(GROUP_COLS.length)})
         ON CONFLICT (outbox, key) DO NOTHING`,
      [outbox, ...values(g, GROUP_COLS)],
    );
  for (const a of old.alerts)
    await t.run(
      `INSERT INTO outbox_alerts (outbox, ${ALERT_COLS.join(",")}) VALUES (?,${marks(ALERT_COLS.length)})`,
      [outbox, ...values(a, ALERT_COLS)],
    );
  const notificationIds = new Map<number, number>();
  for (const n of old.notifications) {
    const [row] = await t.all<{ id: number }>(
      `INSERT INTO outbox_notifications (outbox, ${NOTIFICATION_COLS.join(",")})
         VALUES (?,${marks(NOTIFICATION_COLS.length)}) RETURNING id`,
      [outbox, ...values(n, NOTIFICATION_COLS)],
    );
    notificationIds.set(Number(n.id), row.id);
  }
  const deliveryIds = new Map<number, number>();
  for (const d of old.deliveries) {
    const nid = notificationIds.get(Number(d.notification_id));
    if (nid === undefined) continue;
    const v = values({ ...d, status: d.status === "sending" ? "pending" : d.status }, DELIVERY_COLS);
    const [row] = await t.all<{ id: number }>(
      `INSERT INTO outbox_deliveries (outbox, notification_id, ${DELIVERY_COLS.join(",")})
         VALUES (?,?,${marks(DELIVERY_COLS.length)}) RETURNING id`,
      [outbox, nid, ...v],
    );
    deliveryIds.set(Number(d.id), row.id);
  }
  let attempts = 0;
  for (const a of old.attempts) {
    const did = deliveryIds.get(Number(a.delivery_id));
    if (did === undefined) continue;
    await t.run(
      `INSERT INTO outbox_attempts (delivery_id, ${ATTEMPT_COLS.join(",")}) VALUES (?,${marks(ATTEMPT_COLS.length)})`,
      [did, ...values(a, ATTEMPT_COLS)],
    );
    attempts++;
  }
  return {
    groups: old.groups.length,
    alerts: old.alerts.length,
    notifications: notificationIds.size,
    deliveries: deliveryIds.size,
    attempts,
  };
}
