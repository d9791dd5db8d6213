-- The baseline: the table the runbook's recovery check counts (SELECT COUNT(*) FROM users).
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
