import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres } from "../support/postgres.js";
import type { PgServer } from "../support/postgres.js";
import { freePort } from "../support/ports.js";
import { StoreError } from "../../src/store/errors.js";
import { openStore } from "../../src/store/open.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { newRevision, runStoreConformance } from "../../src/store/store.case.js";
import { importLegacyCatalog } from "../../src/store/legacy.js";
import { LEGACY_IDS, writeLegacyCatalog } from "./legacy-catalog.js";

// One real PostgreSQL server for the whole file; every test gets its own schema.
let server: PgServer;
let admin: pg.Client;
let schemas = 0;

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

function newSchema(): string {
  return `t${process.pid}_${++schemas}`;
}

async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

runStoreConformance(
  "postgres",
  async () => {
    const schema = newSchema();
    return {
      open: () => PostgresStore.open({ url: server.url, schema }),
      dispose: () => dropSchema(schema),
    };
  },
  { concurrentConnections: true },
);

describe("PostgresStore", () => {
  it("records migrations in its schema and refuses a schema written by a newer Slipway", async () => {
    const schema = newSchema();
    const store = await PostgresStore.open({ url: server.url, schema });
    try {
      const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      expect(rows[0]).toEqual({ version: 1 });
      await admin.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES (999, 'future')`);
      await expect(PostgresStore.open({ url: server.url, schema })).rejects.toThrow(StoreError);
      await expect(PostgresStore.open({ url: server.url, schema })).rejects.toThrow(
        /schema version 999.*newer Slipway/,
      );
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it("keeps its tables out of the public schema", async () => {
    const schema = newSchema();
    const store = await PostgresStore.open({ url: server.url, schema });
    try {
      await store.createRevision(newRevision());
      const { rows } = await admin.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'revisions'`,
      );
      expect(rows).toEqual([]);
      const own = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.revisions`);
      expect(own.rows[0].n).toBe(1);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it("rejects a schema name that is not a plain identifier", async () => {
    await expect(PostgresStore.open({ url: server.url, schema: "x; DROP TABLE y" })).rejects.toThrow(
      /invalid store schema name/,
    );
  });

  it("names the database without its password when it cannot connect", async () => {
    const port = await freePort();
    const err = await openStore({
      home: "/nonexistent",
      databaseUrl: `postgres://slipway:hunter2secret@127.0.0.1:${port}/slipway`,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    const msg = (err as Error).message;
    expect(msg).toContain(`127.0.0.1:${port}`);
    expect(msg).toContain("***");
    expect(msg).not.toContain("hunter2secret");
  });

  it("is what openStore returns when a database URL is given", async () => {
    const store = await openStore({ home: "/nonexistent", databaseUrl: server.url });
    try {
      expect(store).toBeInstanceOf(PostgresStore);
      expect((store as PostgresStore).schema).toBe("slipway");
      await store.setMeta("opened-by", "openStore");
      expect(await store.getMeta("opened-by")).toBe("openStore");
    } finally {
      await store.close();
      await dropSchema("slipway");
    }
  });

  it("imports an old backups/catalog.db of this machine into the shared store", async () => {
    const schema = newSchema();
    const home = mkdtempSync(join(tmpdir(), "slipway-legacy-pg-"));
    const store = await PostgresStore.open({ url: server.url, schema });
    try {
      writeLegacyCatalog(home);
      expect(await importLegacyCatalog(store, home)).toBe(2);
      expect((await store.listBackups("shop", "production")).map((r) => r.id)).toEqual(
        [...LEGACY_IDS].reverse(),
      );
      expect((await store.getBackup(LEGACY_IDS[0]))?.size).toBe(2048);
      expect(await importLegacyCatalog(store, home)).toBe(0);
    } finally {
      await store.close();
      await dropSchema(schema);
      rmSync(home, { recursive: true, force: true });
    }
  });
});
