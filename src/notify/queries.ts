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

const iso = (ms: number | null) => (ms == null ? undefined : new Date(Number(ms)).toISOString());

/** Newest first. */
export async function listDeliveries(
  sql: NotifySql,
  opts: ListDeliveriesOptions = {},
): Promise<DeliveryRecord[]> {
  const filters: [string, string | number | undefined][] = [
    ["d.outbox = ?", sql.outbox],
    ["d.status = ?", opts.status],
    ["d.receiver = ?", opts.receiver],
    ["n.project = ?", opts.project],
    ["n.environment = ?", opts.env],
    ["d.id < ?", opts.beforeId || undefined],
  ];
  const used = filters.filter(([, v]) => v !== undefined && v !== "");
  const where = `WHERE ${used.map(([w]) => w).join(" AND ")}`;
  const rows = await sql.all<LogRow>(
    `SELECT d.*, n.title, n.status AS n_status, n.project, n.environment, n.test
       FROM outbox_deliveries d JOIN outbox_notifications n ON n.id = d.notification_id
       ${where} ORDER BY d.id DESC LIMIT ?`,
    [...used.map(([, v]) => v as string | number), opts.limit ?? 50],
  );
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
    createdAt: new Date(Number(r.created_at)).toISOString(),
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
export async function deliveryAttempts(sql: NotifySql, deliveryId: number): Promise<AttemptRecord[]> {
  const rows = await sql.all<{
    attempt: number;
    at: number;
    duration_ms: number;
    ok: number;
    detail: string;
  }>(
    `SELECT a.attempt, a.at, a.duration_ms, a.ok, a.detail FROM outbox_attempts a
       JOIN outbox_deliveries d ON d.id = a.delivery_id WHERE d.outbox = ? AND a.delivery_id = ? ORDER BY a.id`,
    [sql.outbox, deliveryId],
  );
  return rows.map((r) => ({
    attempt: r.attempt,
    at: new Date(Number(r.at)).toISOString(),
    durationMs: r.duration_ms,
    ok: r.ok === 1,
    detail: r.detail,
  }));
}

export async function getNotification(sql: NotifySql, id: number): Promise<Notification | undefined> {
  const row = await sql.one<{ id: number; payload: string }>(
    "SELECT id, payload FROM outbox_notifications WHERE outbox = ? AND id = ?",
    [sql.outbox, id],
  );
  return row ? { ...(JSON.parse(row.payload) as Omit<Notification, "id">), id: row.id } : undefined;
}

export async function stats(sql: NotifySql): Promise<NotifierStats> {
  const rows = await sql.all<{ status: string; c: number }>(
    "SELECT status, COUNT(*) AS c FROM outbox_deliveries WHERE outbox = ? GROUP BY status",
    [sql.outbox],
  );
  const counts = Object.fromEntries(rows.map((r) => [r.status, Number(r.c)]));
  const one = async (text: string) => Number((await sql.one<{ c: number }>(text, [sql.outbox]))?.c ?? 0);
  return {
    pending: counts.pending ?? 0,
    sending: counts.sending ?? 0,
    sent: counts.sent ?? 0,
    failed: counts.failed ?? 0,
    openGroups: await one("SELECT COUNT(*) AS c FROM outbox_groups WHERE outbox = ?"),
    firingAlerts: await one("SELECT COUNT(*) AS c FROM outbox_alerts WHERE outbox = ? AND status = 'firing'"),
  };
}

export async function dueGroups(sql: NotifySql, now: number): Promise<number> {
  const row = await sql.one<{ c: number }>(
    "SELECT COUNT(*) AS c FROM outbox_groups WHERE outbox = ? AND next_flush_at <= ?",
    [sql.outbox, now],
  );
  return Number(row?.c ?? 0);
}

/** The earliest next_flush_at of any group, if there is one. */
export async function nextGroupFlush(sql: NotifySql): Promise<number | null> {
  const row = await sql.one<{ m: number | null }>(
    "SELECT MIN(next_flush_at) AS m FROM outbox_groups WHERE outbox = ?",
    [sql.outbox],
  );
  return row?.m == null ? null : Number(row.m);
}

/** Drops finished alerts, notifications and deliveries older than `cutoff` (silences: the store's). */
export function prune(sql: NotifySql, cutoff: number): Promise<void> {
  return sql.tx(async (t) => {
    const o = t.outbox;
    await t.run(
      "DELETE FROM outbox_alerts WHERE outbox = ? AND status IN ('done','silenced') AND received_at < ?",
      [o, cutoff],
    );
    const old = `SELECT id FROM outbox_notifications n WHERE outbox = ? AND created_at < ? AND NOT EXISTS
      (SELECT 1 FROM outbox_deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending','sending'))`;
    await t.run(
      `DELETE FROM outbox_attempts WHERE delivery_id IN
         (SELECT id FROM outbox_deliveries WHERE notification_id IN (${old}))`,
      [o, cutoff],
    );
    await t.run(`DELETE FROM outbox_deliveries WHERE notification_id IN (${old})`, [o, cutoff]);
    await t.run(`DELETE FROM outbox_notifications WHERE id IN (${old})`, [o, cutoff]);
  });
}
