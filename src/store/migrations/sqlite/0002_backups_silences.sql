-- The backup catalog and alert silences move into the store (they had files of their own).
-- IF NOT EXISTS: a store whose handle was once given to the old catalog already has the table.

CREATE TABLE IF NOT EXISTS backup_records (
  id TEXT PRIMARY KEY,
  project TEXT NOT NULL,
  env TEXT NOT NULL,
  service TEXT NOT NULL,
  revision INTEGER,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  source TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  size INTEGER,
  sha256 TEXT,
  location TEXT,
  storage_key TEXT NOT NULL,
  facts TEXT NOT NULL DEFAULT '{}',
  config TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  verified_at TEXT,
  verify_detail TEXT
);
CREATE INDEX IF NOT EXISTS backup_records_by_env ON backup_records (project, env, service, started_at);
CREATE INDEX IF NOT EXISTS backup_records_status ON backup_records (status);

CREATE TABLE alert_silences (
  project TEXT NOT NULL,
  env TEXT NOT NULL,
  id TEXT NOT NULL,
  matchers TEXT NOT NULL,
  starts_at TEXT NOT NULL,
  ends_at TEXT NOT NULL,
  author TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (project, env, id)
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_at);
