/** What the outbox tables answer: the delivery log, one delivery's attempts, counts; and pruning. */
import type { DeliveryRow } from "./outbox.js";
import type { NotifySql } from "./sql.js";
import type {
  AttemptRecord,
  DeliveryRecord,
  ListDeliveriesOptions,
  NotifierStats,
} from "./notifier-types.js";
import type { Notification } from "./types.js";

type LogRow = DeliveryRow & {
  title: string;
  n_status: "firing" | "resolved";
  project: string | null;
  environment: string | null;
  test: number;
};

const iso = (ms: number | null) => (ms == null ? undefined : new Date(ms).toISOString());

/** Newest first. */
export function listDeliveries(sql: NotifySql, opts: ListDeliveriesOptions = {}): DeliveryRecord[] {
  const filters: [string, string | number | undefined][] = [
    ["d.status = ?", opts.status],
    ["d.receiver = ?", opts.receiver],
    ["n.project = ?", opts.project],
    ["n.environment = ?", opts.env],
    ["d.id < ?", opts.beforeId || undefined],
  ];
  const used = filters.filter(([, v]) => v !== undefined && v !== "");
  const where = used.length ? `WHERE ${used.map(([w]) => w).join(" AND ")}` : "";
  const rows = sql
    .q(
      `SELECT d.*, n.title, n.status AS n_status, n.project, n.environment, n.test
         FROM notify_deliveries d JOIN notify_notifications n ON n.id = d.notification_id
         ${where} ORDER BY d.id DESC LIMIT ?`,
    )
    .all(...used.map(([, v]) => v), opts.limit ?? 50) as LogRow[];
  return rows.map(recordOf);
}

function recordOf(r: LogRow): DeliveryRecord {
  return {
    id: r.id,
    notificationId: r.notification_id,
    receiver: r.receiver,
    channelType: r.channel_type,
    status: r.status,
    attempts: r.attempts,
    createdAt: new Date(r.created_at).toISOString(),
    sentAt: iso(r.sent_at),
    nextAttemptAt: r.status === "pending" ? iso(r.next_attempt_at) : undefined,
    lastError: r.last_error ?? undefined,
    detail: r.detail ?? undefined,
    title: r.title,
    notificationStatus: r.n_status,
    project: r.project ?? undefined,
    environment: r.environment ?? undefined,
    test: r.test === 1,
  };
}

/** Every attempt of one delivery, oldest first. */
export function deliveryAttempts(sql: NotifySql, deliveryId: number): AttemptRecord[] {
  const rows = sql
    .q("SELECT attempt, at, duration_ms, ok, detail FROM notify_attempts WHERE delivery_id = ? ORDER BY id")
    .all(deliveryId) as { attempt: number; at: number; duration_ms: number; ok: number; detail: string }[];
  return rows.map((r) => ({
    attempt: r.attempt,
    at: new Date(r.at).toISOString(),
    durationMs: r.duration_ms,
    ok: r.ok === 1,
    detail: r.detail,
  }));
}

export function getNotification(sql: NotifySql, id: number): Notification | undefined {
  const row = sql.q("SELECT id, payload FROM notify_notifications WHERE id = ?").get(id) as
    { id: number; payload: string } | undefined;
  return row ? { ...(JSON.parse(row.payload) as Omit<Notification, "id">), id: row.id } : undefined;
}

export function stats(sql: NotifySql): NotifierStats {
  const counts = Object.fromEntries(
    (
      sql.q("SELECT status, COUNT(*) AS c FROM notify_deliveries GROUP BY status").all() as {
        status: string;
        c: number;
      }[]
    ).map((r) => [r.status, r.c]),
  );
  const one = (text: string) => (sql.q(text).get() as { c: number }).c;
  return {
    pending: counts.pending ?? 0,
    sending: counts.sending ?? 0,
    sent: counts.sent ?? 0,
    failed: counts.failed ?? 0,
    openGroups: one("SELECT COUNT(*) AS c FROM notify_groups"),
    firingAlerts: one("SELECT COUNT(*) AS c FROM notify_alerts WHERE status = 'firing'"),
  };
}

export function dueGroups(sql: NotifySql, now: number): number {
  return (sql.q("SELECT COUNT(*) AS c FROM notify_groups WHERE next_flush_at <= ?").get(now) as { c: number })
    .c;
}

/** The earliest next_flush_at of any group, if there is one. */
export function nextGroupFlush(sql: NotifySql): number | null {
  return (sql.q("SELECT MIN(next_flush_at) AS m FROM notify_groups").get() as { m: number | null }).m;
}

/** Drops finished alerts, notifications and deliveries older than `cutoff` (silences: the store's). */
export function prune(sql: NotifySql, cutoff: number): void {
  sql.tx(() => {
    sql.q("DELETE FROM notify_alerts WHERE status IN ('done','silenced') AND received_at < ?").run(cutoff);
    const old = `SELECT id FROM notify_notifications n WHERE created_at < ? AND NOT EXISTS
      (SELECT 1 FROM notify_deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending','sending'))`;
    sql
      .q(
        `DELETE FROM notify_attempts WHERE delivery_id IN (SELECT id FROM notify_deliveries WHERE notification_id IN (${old}))`,
      )
      .run(cutoff);
    sql.q(`DELETE FROM notify_deliveries WHERE notification_id IN (${old})`).run(cutoff);
    sql.q(`DELETE FROM notify_notifications WHERE id IN (${old})`).run(cutoff);
  });
}
