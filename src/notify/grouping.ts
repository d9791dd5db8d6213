/**
 * Grouping: due groups become notifications. Silenced alerts are held back (stateful ones
 * until the silence ends) or closed; the rest are notified once, repeated at the group's
 * repeat interval while they fire, and announced resolved when the route asks for it.
 * Each notification gets one pending delivery per receiver: the outbox the worker drains.
 */
import type { AlertRow, GroupRow } from "./outbox.js";
import { title } from "./render.js";
import { commonLabelsOf, matches } from "./routing.js";
import type { Matchers } from "./routing.js";
import { ACTIVE } from "./sql.js";
import type { NotifySql } from "./sql.js";
import type { AlertView, Labels, Notification, Severity } from "./types.js";

export interface GroupingContext {
  sql: NotifySql;
  /** Alerts listed in one notification at most (the rest are counted). */
  maxAlerts: number;
  /** The channel type of a receiver, recorded on its delivery. */
  channelType(receiver: string): string;
}

interface ActiveSilence {
  id: string;
  m: Matchers;
}

/** A silence as grouping is given it (read from the store before the flush). */
export interface SilenceWindow extends ActiveSilence {
  startsAt: number;
  endsAt: number;
}

const BATCH = 200;

export function flushDueGroups(ctx: GroupingContext, now: () => number, windows: SilenceWindow[]): void {
  for (;;) {
    const at = now();
    let n = 0;
    ctx.sql.tx(() => {
      const groups = ctx.sql
        .q(`SELECT * FROM notify_groups WHERE next_flush_at <= ? ORDER BY next_flush_at LIMIT ${BATCH}`)
        .all(at) as GroupRow[];
      n = groups.length;
      if (!n) return;
      const silences = windows.filter((s) => s.startsAt <= at && s.endsAt > at);
      for (const g of groups) flushGroup(ctx, g, at, silences);
    });
    if (n < BATCH) return;
  }
}

interface Sorted {
  firing: AlertRow[];
  resolvedToSend: AlertRow[];
  /** Stateful alerts a silence holds back: the group stays open for them. */
  held: number;
}

/** Splits a group's open alerts; silenced and unannounced-resolved ones are closed on the way. */
function sortAlerts(sql: NotifySql, g: GroupRow, silences: ActiveSilence[]): Sorted {
  const alerts = sql
    .q(`SELECT * FROM notify_alerts WHERE group_key = ? AND status IN ${ACTIVE} ORDER BY id`)
    .all(g.key) as AlertRow[];
  const setStatus = sql.q("UPDATE notify_alerts SET status = ?, silenced_by = ? WHERE id = ?");
  const out: Sorted = { firing: [], resolvedToSend: [], held: 0 };
  for (const a of alerts) {
    const labels = JSON.parse(a.labels) as Labels;
    const silence = silences.find((s) => matches(s.m, labels));
    if (silence) {
      if (a.status === "firing" && a.stateful) {
        // Held back, not dropped: notified as new once the silence ends, if still firing.
        if (a.notified) sql.q("UPDATE notify_alerts SET notified = ? WHERE id = ?").run(0, a.id);
        out.held++;
      } else setStatus.run(a.status === "firing" ? "silenced" : "done", silence.id, a.id);
      continue;
    }
    if (a.status === "firing") out.firing.push(a);
    else if (a.notified && g.send_resolved) out.resolvedToSend.push(a);
    else setStatus.run("done", null, a.id);
  }
  return out;
}

function flushGroup(ctx: GroupingContext, g: GroupRow, now: number, silences: ActiveSilence[]): void {
  const { sql } = ctx;
  const { firing, resolvedToSend, held } = sortAlerts(sql, g, silences);
  const fresh = firing.some((a) => !a.notified) || resolvedToSend.length > 0;
  const repeat =
    firing.length > 0 && g.last_notified_at != null && now - g.last_notified_at >= g.repeat_interval_ms;
  if (fresh || repeat) {
    notifyGroup(ctx, g, firing, resolvedToSend, now);
    const setStatus = sql.q("UPDATE notify_alerts SET status = ?, silenced_by = ? WHERE id = ?");
    const setNotified = sql.q("UPDATE notify_alerts SET notified = ? WHERE id = ?");
    for (const a of firing) {
      if (a.stateful) setNotified.run(1, a.id);
      else setStatus.run("done", null, a.id);
    }
    for (const a of resolvedToSend) setStatus.run("done", null, a.id);
  }
  const stillOpen = held + firing.filter((a) => a.stateful).length;
  if (stillOpen > 0 || hasNewAlerts(sql, g.key)) {
    sql
      .q("UPDATE notify_groups SET next_flush_at = ?, last_notified_at = ? WHERE key = ?")
      .run(now + g.group_interval_ms, fresh || repeat ? now : g.last_notified_at, g.key);
  } else {
    sql.q("DELETE FROM notify_groups WHERE key = ?").run(g.key);
  }
}

function notifyGroup(
  ctx: GroupingContext,
  g: GroupRow,
  firing: AlertRow[],
  resolvedToSend: AlertRow[],
  now: number,
): void {
  const views = [...firing, ...resolvedToSend].map(viewOf);
  const n: Omit<Notification, "id"> & { truncated?: number } = {
    groupKey: g.key,
    status: firing.length ? "firing" : "resolved",
    groupLabels: JSON.parse(g.group_labels) as Labels,
    commonLabels: commonLabelsOf(views.map((v) => v.labels)),
    mention: (g.mention as Notification["mention"]) ?? undefined,
    alerts: views.slice(0, ctx.maxAlerts),
    createdAt: new Date(now).toISOString(),
  };
  if (views.length > ctx.maxAlerts) n.truncated = views.length - ctx.maxAlerts;
  const firstEvent = Math.min(...[...firing, ...resolvedToSend].map((a) => a.received_at));
  insertNotification(ctx, n, JSON.parse(g.receivers) as string[], now, firstEvent);
}

function hasNewAlerts(sql: NotifySql, key: string): boolean {
  return !!sql
    .q(`SELECT 1 FROM notify_alerts WHERE group_key = ? AND status IN ${ACTIVE} AND notified = 0 LIMIT 1`)
    .get(key);
}

/** The notification and one pending delivery per receiver; returns the notification's id. */
export function insertNotification(
  ctx: GroupingContext,
  n: Omit<Notification, "id">,
  receivers: string[],
  now: number,
  firstEventAt: number,
): number {
  const info = ctx.sql
    .q(
      `INSERT INTO notify_notifications (group_key, status, title, project, environment, payload, test,
         created_at, first_event_at) VALUES (?,?,?,?,?,?,?,?,?)`,
    )
    .run(
      n.groupKey,
      n.status,
      title({ ...n, id: 0 }),
      n.commonLabels.project ?? null,
      n.commonLabels.environment ?? null,
      JSON.stringify(n),
      n.test ? 1 : 0,
      now,
      firstEventAt,
    );
  const id = Number(info.lastInsertRowid);
  const ins = ctx.sql.q(
    `INSERT OR IGNORE INTO notify_deliveries (notification_id, receiver, channel_type, status, next_attempt_at,
     created_at) VALUES (?,?,?,'pending',?,?)`,
  );
  for (const r of receivers) ins.run(id, r, ctx.channelType(r), now, now);
  return id;
}

function viewOf(a: AlertRow): AlertView {
  return {
    status: a.status === "resolved" ? "resolved" : "firing",
    labels: JSON.parse(a.labels) as Labels,
    severity: a.severity as Severity,
    message: a.message,
    ...(a.revision != null ? { revision: a.revision } : {}),
    ...(a.data ? { data: JSON.parse(a.data) as Record<string, unknown> } : {}),
    startsAt: new Date(a.starts_at).toISOString(),
    ...(a.ends_at != null ? { endsAt: new Date(a.ends_at).toISOString() } : {}),
    count: a.count,
    fingerprint: a.fingerprint,
  };
}
