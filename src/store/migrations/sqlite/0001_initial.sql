-- Slipway store, SQLite dialect. JSON columns hold TEXT produced by JSON.stringify.

CREATE TABLE revisions (
  project      TEXT    NOT NULL,
  env          TEXT    NOT NULL,
  number       INTEGER NOT NULL,
  version      TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  snapshot     TEXT    NOT NULL,   -- JSON: resolved spec, secrets as ${VAR} templates
  services     TEXT    NOT NULL,   -- JSON array of service names
  actor        TEXT    NOT NULL,
  description  TEXT    NOT NULL,
  rollback_of  INTEGER,
  skip_checks  INTEGER NOT NULL DEFAULT 0,
  created_at   TEXT    NOT NULL,
  finished_at  TEXT,
  reason       TEXT,
  facts        TEXT    NOT NULL DEFAULT '{}',
  PRIMARY KEY (project, env, number)
) WITHOUT ROWID;

CREATE INDEX revisions_status ON revisions (project, env, status, number);

CREATE TABLE journal (
  project      TEXT    NOT NULL,
  env          TEXT    NOT NULL,
  revision     INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  kind         TEXT    NOT NULL,
  service      TEXT,
  description  TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  duration_ms  REAL,
  message      TEXT,
  data         TEXT,               -- JSON
  PRIMARY KEY (project, env, revision, seq)
) WITHOUT ROWID;

CREATE TABLE instances (
  project      TEXT    NOT NULL,
  env          TEXT    NOT NULL,
  id           TEXT    NOT NULL,
  service      TEXT    NOT NULL,
  slot         TEXT    NOT NULL,
  idx          INTEGER NOT NULL,
  data         TEXT    NOT NULL,   -- JSON: the whole Instance
  updated_at   TEXT    NOT NULL,
  PRIMARY KEY (project, env, id)
) WITHOUT ROWID;

CREATE TABLE locks (
  project      TEXT    NOT NULL,
  env          TEXT    NOT NULL,
  holder       TEXT    NOT NULL,
  operation    TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  acquired_at  TEXT    NOT NULL,
  PRIMARY KEY (project, env)
) WITHOUT ROWID;

CREATE TABLE events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  project      TEXT    NOT NULL,
  env          TEXT    NOT NULL,
  time         TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  severity     TEXT    NOT NULL,
  service      TEXT,
  revision     INTEGER,
  message      TEXT    NOT NULL,
  data         TEXT                -- JSON
);

CREATE INDEX events_project_env ON events (project, env, id);

CREATE TABLE meta (
  key          TEXT    PRIMARY KEY,
  value        TEXT    NOT NULL
) WITHOUT ROWID;
