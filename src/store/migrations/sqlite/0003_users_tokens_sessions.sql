-- Users, API tokens and dashboard sessions (issue 16). Credentials only as hashes:
-- tokens and session ids as SHA-256 hex, passwords as scrypt$N$r$p$salt$hash.

CREATE TABLE users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  grants TEXT NOT NULL DEFAULT '{}',
  password_hash TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  grants TEXT NOT NULL DEFAULT '{}',
  hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT
);

CREATE TABLE sessions (
  hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_name);
