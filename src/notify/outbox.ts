/**
 * The outbox's rows (store migration 0004: tables outboxes and outbox_*) and its registry:
 * one outbox per project/environment, holding the persisted (redacted) alerts configuration
 * the hub re-hydrates at start.
 */
import type { Sql } from "../store/sql.js";

/** The outbox of a project/environment, created when missing; returns its id. */
export async function outboxId(db: Sql, project: string, env: string): Promise<number> {
  await db.run(
    "INSERT INTO outboxes (project, env, updated_at) VALUES (?, ?, ?) ON CONFLICT (project, env) DO NOTHING",
    [project, env, Date.now()],
  );
  const [row] = await db.all<{ id: number }>("SELECT id FROM outboxes WHERE project = ? AND env = ?", [
    project,
    env,
  ]);
  return row.id;
}

/** An outbox as the hub reads it back: whose it is and its persisted configuration. */
export interface HubRow {
  id: number;
  project: string;
  env: string;
  alerts: string | null;
  held: string | null;
}

const HUB_COLUMNS = "id, project, env, alerts, held";

/** Every outbox with a persisted configuration (a daemon brings their notifiers back). */
export function configuredOutboxes(db: Sql): Promise<HubRow[]> {
  return db.all<HubRow>(`SELECT ${HUB_COLUMNS} FROM outboxes WHERE alerts IS NOT NULL ORDER BY id`);
}

export async function findOutbox(db: Sql, project: string, env: string): Promise<HubRow | undefined> {
  const [row] = await db.all<HubRow>(`SELECT ${HUB_COLUMNS} FROM outboxes WHERE project = ? AND env = ?`, [
    project,
    env,
  ]);
  return row;
}

export async function writeHubConfig(
  db: Sql,
  id: number,
  text: string | null,
  held: string[],
): Promise<void> {
  await db.run("UPDATE outboxes SET alerts = ?, held = ?, updated_at = ? WHERE id = ?", [
    text,
    held.length ? JSON.stringify(held) : null,
    Date.now(),
    id,
  ]);
}

// Row shapes as both stores return them (integers as numbers, JSON as text).
export interface GroupRow {
  outbox: number;
  key: string;
  route_index: number;
  receivers: string;
  mention: string | null;
  send_resolved: number;
  group_labels: string;
  group_interval_ms: number;
  repeat_interval_ms: number;
  created_at: number;
  next_flush_at: number;
  last_notified_at: number | null;
}

export interface AlertRow {
  id: number;
  group_key: string;
  fingerprint: string;
  project: string;
  environment: string;
  service: string;
  event: string;
  labels: string;
  severity: string;
  message: string;
  revision: number | null;
  data: string | null;
  stateful: number;
  status: "firing" | "resolved" | "done" | "silenced";
  count: number;
  starts_at: number;
  ends_at: number | null;
  received_at: number;
  notified: number;
  silenced_by: string | null;
}

export interface DeliveryRow {
  id: number;
  notification_id: number;
  receiver: string;
  channel_type: string;
  status: "pending" | "sending" | "sent" | "failed";
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  last_error: string | null;
  detail: string | null;
  done: string;
  owner: string | null;
  owner_host: string | null;
  owner_pid: number | null;
  owner_start: string | null;
  claimed_at: number | null;
}

/** A silence as the old outbox files kept it (notify_silences), and as silences.ts builds one. */
export interface SilenceRow {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  author: string;
  comment: string;
  created_at: number;
}
