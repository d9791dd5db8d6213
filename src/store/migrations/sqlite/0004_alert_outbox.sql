-- The alert outbox moves into the store (it was one SQLite file per environment under
-- SLIPWAY_HOME/notify/). One outbox per environment; every row names its outbox, because two
-- environments may give the same channel name to different receivers. Times are epoch ms.

CREATE TABLE outboxes (
  id          INTEGER PRIMARY KEY,
  project     TEXT    NOT NULL,
  env         TEXT    NOT NULL,
  alerts      TEXT,               -- JSON: the alerts block with ${VAR} templates, never a secret
  held        TEXT,               -- JSON: channels whose secret was literal (not stored)
  updated_at  INTEGER NOT NULL,
  UNIQUE (project, env)
);

CREATE TABLE outbox_groups (
  outbox              INTEGER NOT NULL REFERENCES outboxes(id),
  key                 TEXT    NOT NULL,
  route_index         INTEGER NOT NULL,
  receivers           TEXT    NOT NULL,
  mention             TEXT,
  send_resolved       INTEGER NOT NULL,
  group_labels        TEXT    NOT NULL,
  group_interval_ms   INTEGER NOT NULL,
  repeat_interval_ms  INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  next_flush_at       INTEGER NOT NULL,
  last_notified_at    INTEGER,
  PRIMARY KEY (outbox, key)
);
CREATE INDEX outbox_groups_due ON outbox_groups (outbox, next_flush_at);

CREATE TABLE outbox_alerts (
  id           INTEGER PRIMARY KEY,
  outbox       INTEGER NOT NULL REFERENCES outboxes(id),
  group_key    TEXT    NOT NULL,
  fingerprint  TEXT    NOT NULL,
  project      TEXT    NOT NULL,
  environment  TEXT    NOT NULL,
  service      TEXT    NOT NULL,
  event        TEXT    NOT NULL,
  labels       TEXT    NOT NULL,
  severity     TEXT    NOT NULL,
  message      TEXT    NOT NULL,
  revision     INTEGER,
  data         TEXT,
  stateful     INTEGER NOT NULL,
  status       TEXT    NOT NULL,
  count        INTEGER NOT NULL DEFAULT 1,
  starts_at    INTEGER NOT NULL,
  ends_at      INTEGER,
  received_at  INTEGER NOT NULL,
  notified     INTEGER NOT NULL DEFAULT 0,
  silenced_by  TEXT
);
CREATE INDEX outbox_alerts_group ON outbox_alerts (outbox, group_key, status);
CREATE INDEX outbox_alerts_identity ON outbox_alerts (outbox, service, event, status);
CREATE INDEX outbox_alerts_done ON outbox_alerts (outbox, status, received_at);

CREATE TABLE outbox_notifications (
  id              INTEGER PRIMARY KEY,
  outbox          INTEGER NOT NULL REFERENCES outboxes(id),
  group_key       TEXT    NOT NULL,
  status          TEXT    NOT NULL,
  title           TEXT    NOT NULL,
  project         TEXT,
  environment     TEXT,
  payload         TEXT    NOT NULL,
  test            INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  first_event_at  INTEGER
);
CREATE INDEX outbox_notifications_age ON outbox_notifications (outbox, created_at);

-- A claim names its claimer: a random token per notifier, the host, and the process as
-- (pid, start time), so a reused pid is never mistaken for the claimer still at work.
CREATE TABLE outbox_deliveries (
  id               INTEGER PRIMARY KEY,
  outbox           INTEGER NOT NULL REFERENCES outboxes(id),
  notification_id  INTEGER NOT NULL REFERENCES outbox_notifications(id) ON DELETE CASCADE,
  receiver         TEXT    NOT NULL,
  channel_type     TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  sent_at          INTEGER,
  last_error       TEXT,
  detail           TEXT,
  done             TEXT    NOT NULL DEFAULT '[]',
  owner            TEXT,
  owner_host       TEXT,
  owner_pid        INTEGER,
  owner_start      TEXT,
  claimed_at       INTEGER,
  UNIQUE (notification_id, receiver)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (outbox, status, receiver, next_attempt_at, id);

CREATE TABLE outbox_attempts (
  id           INTEGER PRIMARY KEY,
  delivery_id  INTEGER NOT NULL REFERENCES outbox_deliveries(id) ON DELETE CASCADE,
  attempt      INTEGER NOT NULL,
  at           INTEGER NOT NULL,
  duration_ms  INTEGER NOT NULL,
  ok           INTEGER NOT NULL,
  detail       TEXT    NOT NULL
);
CREATE INDEX outbox_attempts_delivery ON outbox_attempts (delivery_id);
