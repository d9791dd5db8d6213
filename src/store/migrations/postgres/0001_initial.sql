-- Slipway store, PostgreSQL dialect. Runs with search_path set to the store's schema.

CREATE TABLE revisions (
  project      text        NOT NULL,
  env          text        NOT NULL,
  number       integer     NOT NULL,
  version      text        NOT NULL,
  status       text        NOT NULL,
  snapshot     jsonb       NOT NULL,   -- resolved spec, secrets as ${VAR} templates
  services     jsonb       NOT NULL,
  actor        text        NOT NULL,
  description  text        NOT NULL,
  rollback_of  integer,
  skip_checks  boolean     NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  reason       text,
  facts        jsonb       NOT NULL DEFAULT '{}',
  PRIMARY KEY (project, env, number)
);

CREATE INDEX revisions_status ON revisions (project, env, status, number);

-- One row per environment; createRevision bumps it in the same transaction as the insert,
-- so concurrent deploys get distinct consecutive numbers (the row lock serialises them).
CREATE TABLE revision_counters (
  project      text        NOT NULL,
  env          text        NOT NULL,
  last         integer     NOT NULL,
  PRIMARY KEY (project, env)
);

CREATE TABLE journal (
  project      text        NOT NULL,
  env          text        NOT NULL,
  revision     integer     NOT NULL,
  seq          integer     NOT NULL,
  kind         text        NOT NULL,
  service      text,
  description  text        NOT NULL,
  status       text        NOT NULL,
  started_at   timestamptz,
  finished_at  timestamptz,
  duration_ms  double precision,
  message      text,
  data         jsonb,
  PRIMARY KEY (project, env, revision, seq)
);

CREATE TABLE instances (
  project      text        NOT NULL,
  env          text        NOT NULL,
  id           text        NOT NULL,
  service      text        NOT NULL,
  slot         text        NOT NULL,
  idx          integer     NOT NULL,
  data         jsonb       NOT NULL,   -- the whole Instance
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (project, env, id)
);

CREATE TABLE locks (
  project      text        NOT NULL,
  env          text        NOT NULL,
  holder       text        NOT NULL,
  operation    text        NOT NULL,
  pid          integer     NOT NULL,
  acquired_at  timestamptz NOT NULL,
  PRIMARY KEY (project, env)
);

CREATE TABLE events (
  id           bigserial   PRIMARY KEY,
  project      text        NOT NULL,
  env          text        NOT NULL,
  time         timestamptz NOT NULL,
  kind         text        NOT NULL,
  severity     text        NOT NULL,
  service      text,
  revision     integer,
  message      text        NOT NULL,
  data         jsonb
);

CREATE INDEX events_project_env ON events (project, env, id);

CREATE TABLE meta (
  key          text        PRIMARY KEY,
  value        text        NOT NULL
);
