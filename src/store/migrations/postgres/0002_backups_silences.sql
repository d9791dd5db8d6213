-- The backup catalog and alert silences move into the store (they had files of their own).

CREATE TABLE backup_records (
  id             text        PRIMARY KEY,
  project        text        NOT NULL,
  env            text        NOT NULL,
  service        text        NOT NULL,
  revision       integer,
  type           text        NOT NULL,
  status         text        NOT NULL,
  source         text        NOT NULL,
  started_at     text        NOT NULL,   -- ISO text as recorded: ordering ties break on id
  finished_at    text,
  size           bigint,
  sha256         text,
  location       text,
  storage_key    text        NOT NULL,
  facts          jsonb       NOT NULL DEFAULT '{}',
  config         jsonb       NOT NULL DEFAULT '{}',
  error          text,
  verified_at    text,
  verify_detail  text
);
CREATE INDEX backup_records_by_env ON backup_records (project, env, service, started_at);
CREATE INDEX backup_records_status ON backup_records (status);

CREATE TABLE alert_silences (
  project     text        NOT NULL,
  env         text        NOT NULL,
  id          text        NOT NULL,
  matchers    jsonb       NOT NULL,
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  author      text        NOT NULL,
  comment     text        NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (project, env, id)
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_at);
