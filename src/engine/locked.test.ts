/**
 * A user's operation meeting the daemon's own housekeeping (warm reaping, self-heal, health
 * sweeps) waits for it instead of failing with exit 3; a lock held by another operation still
 * refuses at once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LockHeld } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import type { EngineDeps } from "./context.js";
import type { EngineEvent } from "./events.js";
import { lockHolder } from "./lock.js";
import { withLock } from "./data/catalog.js";
import { locked } from "./locked.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "slipway-locked-"));
  dirs.push(dir);
  const store = SqliteStore.open({ home: dir });
  // Only what locked() and the warm reaping of an empty environment touch.
  const deps = { home: dir, store, actor: "alice" } as unknown as EngineDeps;
  const spec = { project: "p", env: "e", services: {} } as unknown as ResolvedSpec;
  const hold = (operation: string) =>
    store.acquireLock({
      project: "p",
      env: "e",
      holder: lockHolder("daemon"),
      operation,
      pid: process.pid,
      acquiredAt: new Date().toISOString(),
    });
  return { store, deps, spec, hold };
}

describe("locked()", () => {
  it("waits for the daemon's housekeeping to release the lock, then runs", async () => {
    const { store, deps, spec, hold } = setup();
    await hold("maintain");
    setTimeout(() => void store.releaseLock("p", "e", lockHolder("daemon")), 400);
    const events: EngineEvent[] = [];
    const t0 = Date.now();
    const r = await locked(
      deps,
      spec,
      "deploy",
      (e) => events.push(e),
      async () => "ran",
    );
    expect(r).toBe("ran");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(events.some((e) => e.type === "log" && /waiting for the daemon's maintain/.test(e.message))).toBe(
      true,
    );
    expect(await store.getLock("p", "e")).toBeUndefined();
    await store.close();
  });

  it("refuses at once while another operation holds the lock", async () => {
    const { store, deps, spec, hold } = setup();
    await hold("deploy");
    await expect(
      locked(
        deps,
        spec,
        "rollback",
        () => {},
        async () => "ran",
      ),
    ).rejects.toBeInstanceOf(LockHeld);
    await store.close();
  });

  it("data operations (migrate up/down, restore) wait for housekeeping too, instead of exit 3", async () => {
    const { store, deps, spec, hold } = setup();
    await hold("health-sweep");
    setTimeout(() => void store.releaseLock("p", "e", lockHolder("daemon")), 300);
    const events: EngineEvent[] = [];
    const r = await withLock(
      deps,
      spec,
      "migrate up",
      async () => "migrated",
      (e) => events.push(e),
    );
    expect(r).toBe("migrated");
    expect(
      events.some((e) => e.type === "log" && /waiting for the daemon's health-sweep/.test(e.message)),
    ).toBe(true);
    await hold("deploy");
    await expect(withLock(deps, spec, "migrate up", async () => "ran")).rejects.toBeInstanceOf(LockHeld);
    await store.close();
  });
});
