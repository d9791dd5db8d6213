/**
 * The notifier's tables in a better-sqlite3 database it is handed (the store's, or its own):
 * alerts, groups, notifications, deliveries (the outbox), attempts (the delivery log) and
 * silences. All names start with notify_; the schema version lives in notify_meta.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

export type Db = Database.Database;
export type Statement = Database.Statement;

export const NOTIFY_SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS notify_groups (
  key TEXT PRIMARY KEY,
  route_index INTEGER NOT NULL,
  receivers TEXT NOT NULL,
  mention TEXT,
  send_resolved INTEGER NOT NULL,
  group_labels TEXT NOT NULL,
  group_interval_ms INTEGER NOT NULL,
  repeat_interval_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  next_flush_at INTEGER NOT NULL,
  last_notified_at INTEGER
);
CREATE INDEX IF NOT EXISTS notify_groups_due ON notify_groups(next_flush_at);

CREATE TABLE IF NOT EXISTS notify_alerts (
  id INTEGER PRIMARY KEY,
  group_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  project TEXT NOT NULL,
  environment TEXT NOT NULL,
  service TEXT NOT NULL,
  event TEXT NOT NULL,
  labels TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  revision INTEGER,
  data TEXT,
  stateful INTEGER NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER,
  received_at INTEGER NOT NULL,
  notified INTEGER NOT NULL DEFAULT 0,
  silenced_by TEXT
);
CREATE INDEX IF NOT EXISTS notify_alerts_group ON notify_alerts(group_key, status);
CREATE INDEX IF NOT EXISTS notify_alerts_identity ON notify_alerts(project, environment, service, event, status);
CREATE INDEX IF NOT EXISTS notify_alerts_done ON notify_alerts(status, received_at);

CREATE TABLE IF NOT EXISTS notify_notifications (
  id INTEGER PRIMARY KEY,
  group_key TEXT NOT NULL,
  status TEXT NOT NULL,
  title TEXT NOT NULL,
  project TEXT,
  environment TEXT,
  payload TEXT NOT NULL,
  test INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  first_event_at INTEGER
);

CREATE TABLE IF NOT EXISTS notify_deliveries (
  id INTEGER PRIMARY KEY,
  notification_id INTEGER NOT NULL REFERENCES notify_notifications(id) ON DELETE CASCADE,
  receiver TEXT NOT NULL,
  channel_type TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  last_error TEXT,
  detail TEXT,
  done TEXT NOT NULL DEFAULT '[]',
  owner_pid INTEGER,
  owner TEXT,
  UNIQUE (notification_id, receiver)
);
CREATE INDEX IF NOT EXISTS notify_deliveries_due ON notify_deliveries(status, receiver, next_attempt_at, id);

CREATE TABLE IF NOT EXISTS notify_attempts (
  id INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL REFERENCES notify_deliveries(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notify_attempts_delivery ON notify_attempts(delivery_id);

CREATE TABLE IF NOT EXISTS notify_silences (
  id TEXT PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  author TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/** Creates the notify_ tables when missing; refuses a newer schema than this code knows. */
export function migrateNotify(db: Db): void {
  db.exec("CREATE TABLE IF NOT EXISTS notify_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = db.prepare("SELECT value FROM notify_meta WHERE key = 'schema_version'").get() as
    { value: string } | undefined;
  const current = row ? Number(row.value) : 0;
  if (current > NOTIFY_SCHEMA_VERSION)
    throw new Error(
      `the notify tables have schema version ${current}, newer than this Slipway (${NOTIFY_SCHEMA_VERSION}); upgrade Slipway`,
    );
  if (current === NOTIFY_SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(SCHEMA_V1);
    db.prepare(
      "INSERT INTO notify_meta (key, value) VALUES ('schema_version', ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(String(NOTIFY_SCHEMA_VERSION));
  }).immediate();
}

/**
 * Opens a SQLite file for the notifier on its own (mode 0600, WAL, synchronous=NORMAL: a
 * committed row survives a process crash; only a power loss may take the last commits).
 */
export function openNotifyDb(file: string, busyTimeoutMs = 10_000): Db {
  const dir = dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
  const db = new Database(file, { timeout: busyTimeoutMs });
  db.pragma(`busy_timeout = ${Math.floor(busyTimeoutMs)}`);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

// Row shapes as SQLite returns them.
export interface GroupRow {
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
  owner_pid: number | null;
  owner: string | null;
}

export interface SilenceRow {
  id: string;
  matchers: string;
  starts_at: number;
  ends_at: number;
  author: string;
  comment: string;
  created_at: number;
}
