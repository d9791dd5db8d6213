/**
 * An outbox file as an earlier Slipway wrote it (`SLIPWAY_HOME/notify/<project>@<env>.db`:
 * schema version 1 of the notify_ tables plus hub_config), for the import tests.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

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

const HUB = `CREATE TABLE hub_config (id INTEGER PRIMARY KEY CHECK (id = 1), project TEXT NOT NULL,
  env TEXT NOT NULL, alerts TEXT, held TEXT, updated_at INTEGER NOT NULL)`;

export function legacyOutboxFile(home: string, project = "shop", env = "production"): string {
  return join(home, "notify", `${encodeURIComponent(project)}@${encodeURIComponent(env)}.db`);
}

/** Creates the old file with its tables (and hub_config when `alerts` is given); returns it open. */
export function writeLegacyOutbox(
  file: string,
  opts: { project?: string; env?: string; alerts?: unknown } = {},
): Database.Database {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.exec(SCHEMA_V1);
  db.exec("CREATE TABLE notify_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  db.prepare("INSERT INTO notify_meta (key, value) VALUES ('schema_version', '1')").run();
  if (opts.alerts !== undefined) {
    db.exec(HUB);
    db.prepare(
      "INSERT INTO hub_config (id, project, env, alerts, held, updated_at) VALUES (1, ?, ?, ?, NULL, ?)",
    ).run(opts.project ?? "shop", opts.env ?? "production", JSON.stringify(opts.alerts), Date.now());
  }
  return db;
}
