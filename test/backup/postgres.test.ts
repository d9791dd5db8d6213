import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BackupNotFound } from "../../src/backup/index.js";
import { postgresProvider } from "../../src/backup/postgres.js";
import { runBackupProviderConformance } from "../../src/backup/provider.case.js";
import { Refused } from "../../src/errors.js";
import { startPostgres } from "../support/postgres.js";
import type { PgServer } from "../support/postgres.js";
import { corrupt, harness } from "./helpers.js";
import type { Harness } from "./helpers.js";

let server: PgServer;
let h: Harness;
let url: string;

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(q: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(q)).rows;
  } finally {
    await c.end();
  }
}

async function snapshot(): Promise<string> {
  const rows = await sql(
    "SELECT json_agg(t ORDER BY id)::text AS a FROM accounts t UNION ALL SELECT json_agg(e ORDER BY id)::text FROM app.events e",
  );
  return rows.map((r) => String(r.a)).join("\n");
}

beforeAll(async () => {
  server = await startPostgres();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("CREATE DATABASE shop");
  await admin.end();
  url = server.url.replace(/\/postgres$/, "/shop");
  await sql(`
    CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric);
    CREATE SCHEMA app;
    CREATE TABLE app.events (id serial PRIMARY KEY, account int REFERENCES accounts(id), payload jsonb);
    INSERT INTO accounts SELECT g, 'user ' || g || E' \\'quoted\\'', g * 1.5 FROM generate_series(1, 500) g;
    INSERT INTO app.events (account, payload) SELECT (g % 500) + 1, jsonb_build_object('n', g) FROM generate_series(1, 2000) g;
  `);
  h = harness();
});

afterAll(async () => {
  h?.close();
  await server?.stop();
});

describe("postgres backups (real PostgreSQL 15)", () => {
  let id: string;

  test("backup → change data → restore → data equal", async () => {
    const before = await snapshot();
    const rec = await h.manager.backup({
      project: "shop",
      env: "staging",
      service: "db",
      revision: 4,
      config: { type: "postgres", url },
    });
    id = rec.id;
    expect(rec.status).toBe("ok");
    expect(rec.size).toBeGreaterThan(0);
    expect(rec.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.location).toContain(`${h.home}/backups/shop/staging/db/`);
    expect(rec.facts.tables).toEqual({ "public.accounts": 500, "app.events": 2000 });
    expect(rec.revision).toBe(4);

    await sql(`
      UPDATE accounts SET balance = 0;
      DELETE FROM app.events WHERE id > 100;
      INSERT INTO accounts VALUES (9999, 'intruder', 1);
    `);
    expect(await snapshot()).not.toBe(before);

    await h.manager.restore(id, { config: { type: "postgres", url } });
    expect(await snapshot()).toBe(before);
  });

  test("verify restores into a scratch database and compares row counts", async () => {
    const rec = await h.manager.verify(id);
    expect(rec.status).toBe("verified");
    expect(rec.verifyDetail).toMatch(/2 tables, 2500 rows match/);
    const dbs = await sql<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'slipway_verify_%'",
    );
    expect(dbs).toEqual([]);
  });

  test("a corrupted backup file is detected by verify and refused by restore", async () => {
    const rec = await h.manager.backup({
      project: "shop",
      env: "staging",
      service: "db",
      config: { type: "postgres", url },
    });
    await corrupt(rec.location!);
    const checked = await h.manager.verify(rec.id);
    expect(checked.status).toBe("corrupt");
    expect(checked.error).toMatch(/checksum mismatch/);
    await expect(h.manager.restore(rec.id)).rejects.toBeInstanceOf(Refused);
    // the newest verified one is still the good one
    expect((await h.manager.list("shop", "staging", "db")).find((r) => r.status === "verified")?.id).toBe(id);
  });

  test("row counts that do not match mark the backup corrupt", async () => {
    const rec = await h.manager.backup({
      project: "shop",
      env: "staging",
      service: "db",
      config: { type: "postgres", url },
    });
    // Tamper with what was recorded (as if the dump had lost rows): verify must notice.
    h.db
      .prepare(
        "UPDATE backup_records SET facts = json_set(facts, '$.tables.\"public.accounts\"', 501) WHERE id = ?",
      )
      .run(rec.id);
    const checked = await h.manager.verify(rec.id);
    expect(checked.status).toBe("corrupt");
    expect(checked.error).toContain("public.accounts: 501 → 500");
  });

  test("restore of an unknown id gives a clear error", async () => {
    const err = await h.manager.restore("db-20990101T000000Z-ffff").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupNotFound);
    expect((err as Error).message).toBe(
      'no backup with id "db-20990101T000000Z-ffff" (slipway backups ENV lists them)',
    );
  });

  test("a backup of an unreachable server fails with a clear, recorded error", async () => {
    const bad = `postgres://postgres:s3cretpw@127.0.0.1:1/shop`;
    const err = (await h.manager
      .backup({ project: "shop", env: "staging", service: "db", config: { type: "postgres", url: bad } })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /failed: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/shop/,
    );
    const failed = (await h.manager.list("shop", "staging", "db")).find((r) => r.status === "failed")!;
    expect(JSON.stringify(failed)).not.toContain("s3cretpw");
    expect(h.logged.join("\n")).not.toContain("s3cretpw");
  });
});

runBackupProviderConformance("postgres", () => ({
  provider: postgresProvider,
  config: { type: "postgres", url },
  snapshot,
  mutate: async () => {
    await sql(`
      UPDATE accounts SET name = 'renamed' WHERE id <= 10;
      DELETE FROM app.events WHERE id % 3 = 0;
      INSERT INTO accounts VALUES (7777, 'newcomer', 2);
    `);
  },
}));
