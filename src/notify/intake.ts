/**
 * Intake: one event becomes alert rows (one per matching route, folded into an open alert with
 * the same labels) and their groups, in one transaction; or it resolves the open alerts it
 * names. Grouping (grouping.ts) turns the rows into notifications later.
 */
import type { AlertsConfig } from "../spec/schema-alerts.js";
import type { AlertRow, GroupRow } from "./outbox.js";
import { fingerprintOf, groupKeyOf, groupLabelsOf, isStateful, labelsOf, selectRoutes } from "./routing.js";
import type { ResolvedRoute } from "./routing.js";
import { ACTIVE } from "./sql.js";
import type { NotifySql } from "./sql.js";
import type { AlertEvent, Labels, Notification, Severity } from "./types.js";

/** Marks the firing alerts of kind `target` resolved; extra labels narrow which ones. */
export async function resolveOpen(
  sql: NotifySql,
  event: AlertEvent,
  labels: Labels,
  target: string,
  now: number,
): Promise<number> {
  // Extra labels narrow what is resolved (one certificate of several, one check).
  const extra = Object.entries(labels).filter(([k]) => !["event", "severity"].includes(k));
  return sql.tx(async (t) => {
    const open = await t.all<Pick<AlertRow, "id" | "labels">>(
      `SELECT id, labels FROM outbox_alerts WHERE outbox = ? AND project = ? AND environment = ?
         AND service = ? AND event = ? AND status = 'firing'`,
      [t.outbox, event.project, event.env, event.service ?? "", target],
    );
    let resolved = 0;
    for (const a of open) {
      const l = JSON.parse(a.labels) as Labels;
      if (extra.every(([k, v]) => l[k] === v))
        resolved += await t.run(
          `UPDATE outbox_alerts SET status = 'resolved', ends_at = ? WHERE id = ? AND status = 'firing'`,
          [now, a.id],
        );
    }
    return resolved;
  });
}

/** Stores the alert on every route; returns the earliest time one of its groups is due. */
export function recordAlert(
  sql: NotifySql,
  routes: ResolvedRoute[],
  event: AlertEvent,
  labels: Labels,
  now: number,
): Promise<number> {
  const startsAt = (event.time && Date.parse(event.time)) || now;
  return sql.tx(async (t) => {
    let earliest = Infinity;
    for (const r of routes) {
      const gl = groupLabelsOf(r.groupBy, labels);
      const key = groupKeyOf(r.index, gl);
      earliest = Math.min(earliest, await ensureGroup(t, r, key, gl, now));
      await upsertAlert(t, key, event, labels, startsAt, now);
    }
    return earliest;
  });
}

/** The group's next flush time, creating the group (due after groupWait) when it is new. */
async function ensureGroup(
  t: NotifySql,
  r: ResolvedRoute,
  key: string,
  gl: Labels,
  now: number,
): Promise<number> {
  const at = now + r.groupWait;
  // Inserted unless there (another daemon on a shared store may create it at the same time).
  await t.run(
    `INSERT INTO outbox_groups (outbox, key, route_index, receivers, mention, send_resolved, group_labels,
       group_interval_ms, repeat_interval_ms, created_at, next_flush_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)
       ON CONFLICT (outbox, key) DO NOTHING`,
    [
      t.outbox,
      key,
      r.index,
      JSON.stringify(r.receivers),
      r.mention ?? null,
      r.sendResolved ? 1 : 0,
      JSON.stringify(gl),
      r.groupInterval,
      r.repeatInterval,
      now,
      at,
    ],
  );
  const group = await t.one<Pick<GroupRow, "next_flush_at">>(
    "SELECT next_flush_at FROM outbox_groups WHERE outbox = ? AND key = ?",
    [t.outbox, key],
  );
  return group?.next_flush_at ?? at;
}

async function upsertAlert(
  t: NotifySql,
  key: string,
  event: AlertEvent,
  labels: Labels,
  startsAt: number,
  now: number,
): Promise<void> {
  const fp = fingerprintOf(labels);
  const stateful = isStateful(event);
  const existing = await t.one<Pick<AlertRow, "id" | "status" | "stateful" | "notified">>(
    `SELECT id, status, stateful, notified FROM outbox_alerts WHERE outbox = ? AND group_key = ?
       AND fingerprint = ? AND status IN ${ACTIVE} ORDER BY id DESC LIMIT 1`,
    [t.outbox, key, fp],
  );
  const data = event.data ? JSON.stringify(event.data) : null;
  if (existing && (existing.status === "resolved" ? stateful : existing.stateful || !existing.notified)) {
    // The same alert again: fold it (Alertmanager deduplicates by labels).
    await t.run(
      `UPDATE outbox_alerts SET status = 'firing', ends_at = NULL, count = count + 1, message = ?,
         severity = ?, labels = ?, revision = ?, data = ? WHERE id = ?`,
      [event.message, event.severity, JSON.stringify(labels), event.revision ?? null, data, existing.id],
    );
    return;
  }
  await t.run(
    `INSERT INTO outbox_alerts (outbox, group_key, fingerprint, project, environment, service, event,
       labels, severity, message, revision, data, stateful, status, starts_at, received_at)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'firing',?,?)`,
    [
      t.outbox,
      key,
      fp,
      event.project,
      event.env,
      event.service ?? "",
      event.kind,
      JSON.stringify(labels),
      event.severity,
      event.message,
      event.revision ?? null,
      data,
      stateful ? 1 : 0,
      startsAt,
      now,
    ],
  );
}

export interface TestRequest {
  project: string;
  env: string;
  severity?: Severity;
  service?: string;
  message?: string;
}

/**
 * `slipway alerts test`: the notification to send at once (no group wait) and the receivers
 * of every matching route; no receivers means no route matches.
 */
export function testNotification(
  config: AlertsConfig,
  opts: TestRequest,
  now: number,
): { notification: Omit<Notification, "id">; receivers: string[] } {
  const severity = opts.severity ?? "critical";
  const ev: AlertEvent = {
    project: opts.project,
    env: opts.env,
    service: opts.service,
    kind: "alert.test",
    severity,
    message: opts.message ?? `Test alert (${severity}) for ${opts.project}/${opts.env} from slipway`,
  };
  const labels = labelsOf(ev);
  const routes = selectRoutes(config, labels);
  const receivers = [...new Set(routes.flatMap((r) => r.receivers))];
  const at = new Date(now).toISOString();
  const notification: Omit<Notification, "id"> = {
    groupKey: groupKeyOf(-1, labels),
    status: "firing",
    groupLabels: labels,
    commonLabels: labels,
    mention: routes.find((r) => r.mention)?.mention,
    test: true,
    createdAt: at,
    alerts: [
      {
        status: "firing",
        labels,
        severity,
        message: ev.message,
        startsAt: at,
        count: 1,
        fingerprint: fingerprintOf(labels),
      },
    ],
  };
  return { notification, receivers };
}
