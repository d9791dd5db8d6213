-- Users, API tokens and dashboard sessions (issue 16). Credentials only as hashes:
-- tokens and session ids as SHA-256 hex, passwords as scrypt$N$r$p$salt$hash.

CREATE TABLE users (
  name           text        PRIMARY KEY,
  role           text        NOT NULL,
  grants         jsonb       NOT NULL DEFAULT '{}',
  password_hash  text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);

CREATE TABLE api_tokens (
  id            text        PRIMARY KEY,
  name          text        NOT NULL UNIQUE,
  role          text        NOT NULL,
  grants        jsonb       NOT NULL DEFAULT '{}',
  hash          text        NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL,
  created_by    text        NOT NULL,
  expires_at    timestamptz,
  last_used_at  timestamptz
);

CREATE TABLE sessions (
  hash        text        PRIMARY KEY,
  user_name   text        NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_name);
