import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { StoreError } from "../../src/store/errors.js";
import { openStore, storeOptionsFromEnv } from "../../src/store/open.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { newRevision, runStoreConformance } from "../../src/store/store.case.js";

const temps: string[] = [];
function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-store-"));
  temps.push(dir);
  return join(dir, "home");
}
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

runStoreConformance("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-store-"));
  return {
    open: async () => SqliteStore.open({ home: dir }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("SqliteStore", () => {
  it("creates the directory 0700 and the database file 0600", async () => {
    const home = tempHome();
    const store = SqliteStore.open({ home: join(home, "nested") });
    await store.setMeta("k", "v");
    expect(statSync(join(home, "nested")).mode & 0o777).toBe(0o700);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(statSync(`${store.file}-wal`).mode & 0o777).toBe(0o600);
    expect(store.raw().pragma("journal_mode", { simple: true })).toBe("wal");
    await store.close();
  });

  it("records applied migrations and refuses a store written by a newer Slipway", async () => {
    const home = tempHome();
    const store = SqliteStore.open({ home });
    const versions = store
      .raw()
      .prepare("SELECT version FROM schema_migrations ORDER BY version")
      .pluck()
      .all();
    expect(versions[0]).toBe(1);
    store
      .raw()
      .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
      .run();
    await store.close();
    expect(() => SqliteStore.open({ home })).toThrow(StoreError);
    expect(() => SqliteStore.open({ home })).toThrow(/schema version 999.*newer Slipway/);
  });

  it("names the file when it is not a Slipway store", () => {
    const home = tempHome();
    SqliteStore.open({ home }).close();
    writeFileSync(join(home, "slipway.db"), "this is not sqlite, just text that is long enough ".repeat(200));
    rmSync(join(home, "slipway.db-wal"), { force: true });
    rmSync(join(home, "slipway.db-shm"), { force: true });
    expect(() => SqliteStore.open({ home })).toThrow(/slipway\.db is not a Slipway store/);
  });

  it("lets two processes write the same file at once without SQLITE_BUSY", async () => {
    const home = tempHome();
    const store = SqliteStore.open({ home });
    const count = 60;
    const writer = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url));
    const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));
    const child = spawn(tsx, [writer, home, String(count), "child"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      // Start both writers together once the child has the store open.
      while (!out.includes("ready\n")) {
        if (child.exitCode !== null) throw new Error(`writer exited early: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      child.stdin.end("go\n");
      const mine: number[] = [];
      for (let i = 0; i < count; i++) {
        mine.push(
          (await store.createRevision(newRevision({ version: `parent-${i}`, actor: "parent" }))).number,
        );
        await store.addEvent({
          project: "shop",
          env: "staging",
          time: new Date().toISOString(),
          kind: "test",
          severity: "info",
          message: `parent-${i}`,
        });
      }
      expect(await exited, err).toBe(0);
      const theirs = (JSON.parse(out.split("\n")[1]) as { numbers: number[] }).numbers;
      const all = [...mine, ...theirs].sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 2 * count }, (_, i) => i + 1));
      expect(await store.listEvents("shop", "staging")).toHaveLength(2 * count);
      expect(await store.listRevisions("shop", "staging")).toHaveLength(2 * count);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await store.close();
    }
  });
});

describe("openStore", () => {
  it("opens SQLite under home when no database URL is given", async () => {
    const home = tempHome();
    const store = await openStore({ home });
    expect(store).toBeInstanceOf(SqliteStore);
    await store.setMeta("k", "v");
    expect(statSync(join(home, "slipway.db")).isFile()).toBe(true);
    await store.close();
  });

  it("reads SLIPWAY_HOME and SLIPWAY_DATABASE_URL", () => {
    expect(storeOptionsFromEnv({ SLIPWAY_HOME: "/srv/slipway" })).toEqual({ home: "/srv/slipway" });
    expect(storeOptionsFromEnv({ HOME: "/home/u", SLIPWAY_DATABASE_URL: " postgres://x/y " })).toMatchObject({
      databaseUrl: "postgres://x/y",
    });
    expect(storeOptionsFromEnv({}).home).toMatch(/\.slipway$/);
  });
});
