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

export async function flushDueGroups(
  ctx: GroupingContext,
  now: () => number,
  windows: SilenceWindow[],
): Promise<void> {
  for (;;) {
    const at = now();
    const n = await ctx.sql.tx(async (t) => {
      const groups = await t.all<GroupRow>(
        `SELECT * FROM outbox_groups WHERE outbox = ? AND next_flush_at <= ? ORDER BY next_flush_at
           LIMIT ${BATCH}`,
        [t.outbox, at],
      );
      const silences = windows.filter((s) => s.startsAt <= at && s.endsAt > at);
      for (const g of groups) if (await lockGroup(t, g)) await flushGroup(ctx, t, g, at, silences);
      return groups.length;
    });
    if (n < BATCH) return;
  }
}

/**
 * Takes the group's row lock and checks it is still the group read: of two daemons on a shared
 * PostgreSQL store flushing at once, the second waits here, finds the group moved on (or gone)
 * and leaves it, so a group is notified once. (SQLite runs one writer at a time anyway.)
 */
async function lockGroup(t: NotifySql, g: GroupRow): Promise<boolean> {
  const n = await t.run(
    "UPDATE outbox_groups SET next_flush_at = next_flush_at WHERE outbox = ? AND key = ? AND next_flush_at = ?",
    [t.outbox, g.key, g.next_flush_at],
  );
  return n === 1;
}

interface Sorted {
  firing: AlertRow[];
  resolvedToSend: AlertRow[];
  /** Stateful alerts a silence holds back: the group stays open for them. */
  held: number;
}

const SET_STATUS = "UPDATE outbox_alerts SET status = ?, silenced_by = ? WHERE id = ?";
const SET_NOTIFIED = "UPDATE outbox_alerts SET notified = ? WHERE id = ?";

/** Splits a group's open alerts; silenced and unannounced-resolved ones are closed on the way. */
async function sortAlerts(t: NotifySql, g: GroupRow, silences: ActiveSilence[]): Promise<Sorted> {
  const alerts = await t.all<AlertRow>(
    `SELECT * FROM outbox_alerts WHERE outbox = ? AND group_key = ? AND status IN ${ACTIVE} ORDER BY id`,
    [t.outbox, g.key],
  );
  const out: Sorted = { firing: [], resolvedToSend: [], held: 0 };
  for (const a of alerts) {
    const labels = JSON.parse(a.labels) as Labels;
    const silence = silences.find((s) => matches(s.m, labels));
    if (silence) {
      if (a.status === "firing" && a.stateful) {
        // Held back, not dropped: notified as new once the silence ends, if still firing.
        if (a.notified) await t.run(SET_NOTIFIED, [0, a.id]);
        out.held++;
      } else await t.run(SET_STATUS, [a.status === "firing" ? "silenced" : "done", silence.id, a.id]);
      continue;
    }
    if (a.status === "firing") out.firing.push(a);
    else if (a.notified && g.send_resolved) out.resolvedToSend.push(a);
    else await t.run(SET_STATUS, ["done", null, a.id]);
  }
  return out;
}

async function flushGroup(
  ctx: GroupingContext,
  t: NotifySql,
  g: GroupRow,
  now: number,
  silences: ActiveSilence[],
): Promise<void> {
  const { firing, resolvedToSend, held } = await sortAlerts(t, g, silences);
  const fresh = firing.some((a) => !a.notified) || resolvedToSend.length > 0;
  const repeat =
    firing.length > 0 && g.last_notified_at != null && now - g.last_notified_at >= g.repeat_interval_ms;
  if (fresh || repeat) {
    await notifyGroup(ctx, t, g, firing, resolvedToSend, now);
    for (const a of firing) {
      if (a.stateful) await t.run(SET_NOTIFIED, [1, a.id]);
      else await t.run(SET_STATUS, ["done", null, a.id]);
    }
    for (const a of resolvedToSend) await t.run(SET_STATUS, ["done", null, a.id]);
  }
  const stillOpen = held + firing.filter((a) => a.stateful).length;
  if (stillOpen > 0 || (await hasNewAlerts(t, g.key))) {
    await t.run(
      "UPDATE outbox_groups SET next_flush_at = ?, last_notified_at = ? WHERE outbox = ? AND key = ?",
      [now + g.group_interval_ms, fresh || repeat ? now : g.last_notified_at, t.outbox, g.key],
    );
  } else {
    await t.run("DELETE FROM outbox_groups WHERE outbox = ? AND key = ?", [t.outbox, g.key]);
  }
}

async function notifyGroup(
  ctx: GroupingContext,
  t: NotifySql,
  g: GroupRow,
  firing: AlertRow[],
  resolvedToSend: AlertRow[],
  now: number,
): Promise<void> {
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
  await insertNotification(ctx, t, n, JSON.parse(g.receivers) as string[], now, firstEvent);
}

async function hasNewAlerts(t: NotifySql, key: string): Promise<boolean> {
  return !!(await t.one(
    `SELECT 1 AS x FROM outbox_alerts WHERE outbox = ? AND group_key = ? AND status IN ${ACTIVE}
       AND notified = 0 LIMIT 1`,
    [t.outbox, key],
  ));
}

/** The notification and one pending delivery per receiver; returns the notification's id. */
export async function insertNotification(
  ctx: GroupingContext,
  t: NotifySql,
  n: Omit<Notification, "id">,
  receivers: string[],
  now: number,
  firstEventAt: number,
): Promise<number> {
  const [{ id }] = await t.all<{ id: number }>(
    `INSERT INTO outbox_notifications (outbox, group_key, status, title, project, environment, payload,
       test, created_at, first_event_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id`,
    [
      t.outbox,
      n.groupKey,
      n.status,
      title({ ...n, id: 0 }),
      n.commonLabels.project ?? null,
      n.commonLabels.environment ?? null,
      JSON.stringify(n),
      n.test ? 1 : 0,
      now,
      firstEventAt,
    ],
  );
  for (const r of receivers)
    await t.run(
      `INSERT INTO outbox_deliveries (outbox, notification_id, receiver, channel_type, status,
         next_attempt_at, created_at) VALUES (?,?,?,?,'pending',?,?) ON CONFLICT DO NOTHING`,
      [t.outbox, id, r, ctx.channelType(r), now, now],
    );
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
