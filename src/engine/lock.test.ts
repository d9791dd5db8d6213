/**
 * Two callers meeting the same stale lock (its holder died): only one takes it over and
 * recovers (issue 11 item 9); the other is told the environment is locked.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LockHeld } from "../errors.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { selfIdentity } from "../util/pid.js";
import { acquireLock, lockHolder } from "./lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

describe("a stale lock", () => {
  it("is taken over and recovered by one caller only, never by two racing ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-lock-"));
    dirs.push(dir);
    const a = SqliteStore.open({ home: dir });
    const b = SqliteStore.open({ home: dir });
    const pid = deadPid();
    await a.acquireLock({
      ...{ project: "p", env: "e", holder: `cli pid ${pid}@${hostname()}`, operation: "deploy", pid },
      acquiredAt: new Date().toISOString(),
    });
    let recoveries = 0;
    const onStale = async () => {
      recoveries++;
      await new Promise((r) => setTimeout(r, 200));
      return true;
    };
    const results = await Promise.allSettled([
      acquireLock(a, "p", "e", "one", "deploy", onStale),
      acquireLock(b, "p", "e", "two", "deploy", onStale),
    ]);
    expect(recoveries).toBe(1);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected");
    expect(lost?.reason).toBeInstanceOf(LockHeld);
    a.close?.();
    b.close?.();
  });

  it("stays stale when the recovery fails, so the next caller recovers again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-lock-"));
    dirs.push(dir);
    const s = SqliteStore.open({ home: dir });
    const pid = deadPid();
    const stale = {
      ...{ project: "p", env: "e", holder: `cli pid ${pid}@${hostname()}`, operation: "deploy", pid },
      acquiredAt: new Date().toISOString(),
    };
    await s.acquireLock(stale);
    const failing = () => Promise.reject(new Error("recovery failed"));
    await expect(acquireLock(s, "p", "e", "one", "deploy", failing)).rejects.toThrow("recovery failed");
    expect(await s.getLock("p", "e")).toEqual(stale);
    await expect(acquireLock(s, "p", "e", "two", "deploy", async () => true)).resolves.toMatchObject({
      operation: "deploy",
    });
  });

  it("recorded under this process's own pid but another start time is a dead predecessor's (pid reuse)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-lock-"));
    dirs.push(dir);
    const s = SqliteStore.open({ home: dir });
    const { pid, startTime } = selfIdentity();
    expect(startTime).toBeDefined();
    const other = String(Number(startTime) - 1);
    for (const holder of [`daemon pid ${pid}/${other}@${hostname()}`, `daemon pid ${pid}@${hostname()}`]) {
      await s.acquireLock({ project: "p", env: "e", holder, operation: "deploy", pid, acquiredAt: "x" });
      let recoveries = 0;
      const lock = await acquireLock(s, "p", "e", "daemon", "deploy", async () => {
        recoveries++;
        return true;
      });
      expect(recoveries).toBe(1);
      expect(lock.holder).toBe(lockHolder("daemon"));
      expect(lock.holder).toContain(`pid ${pid}/${startTime}@`);
      expect((await s.getLock("p", "e"))?.holder).toBe(lock.holder);
      // Our own live lock (same pid, same start time) is held, never taken over.
      await expect(acquireLock(s, "p", "e", "other", "deploy", async () => true)).rejects.toBeInstanceOf(
        LockHeld,
      );
      await s.releaseLock("p", "e");
    }
    s.close?.();
  });
});
