/**
 * The daemon's API in-process (Hono's app.request()) over a real engine and SQLite store:
 * health is open, every operation needs the token.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../factory.js";
import type { OpPayload } from "../operations.js";
import { lightSpec } from "../spec/env-reference.js";
import { createApp } from "./app.js";

const TOKEN = "t".repeat(43);
let home: string;
let engine: Runtime;
let app: Hono;

const spec = lightSpec(
  { project: "auth", env: "development", target: { kind: "process" } },
  "/nowhere/slipway.yaml",
);
const payload = (args: Record<string, unknown>): OpPayload => ({
  resolution: { spec, snapshot: spec, secrets: {}, vars: {}, light: true },
  args,
});

function releaseLock(authorization?: string): Response | Promise<Response> {
  return app.request("/v1/ops/lock", {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(payload({ release: true })),
  });
}

/** A lock left by a process that is gone: only an authorized --release may clear it. */
async function plantStaleLock(): Promise<void> {
  await engine.store.releaseLock("auth", "development");
  const dead = spawnSync("true").pid;
  const r = await engine.store.acquireLock({
    project: "auth",
    env: "development",
    holder: `test pid ${dead}@${hostname()}`,
    operation: "deploy",
    pid: dead,
    acquiredAt: new Date().toISOString(),
  });
  expect(r.ok).toBe(true);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "slipway-app-"));
  engine = await createRuntime({ home });
  app = createApp({
    token: TOKEN,
    slipway: (t) => engine.slipway(t),
    version: "test",
    startedAt: new Date().toISOString(),
  });
});

afterAll(async () => {
  await engine?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("daemon API auth", () => {
  it("the health route is open", async () => {
    const r = await app.request("/v1/health");
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, pid: process.pid, version: "test" });
  });

  it("an operation without a token or with a wrong one is 401 and changes nothing", async () => {
    await plantStaleLock();
    for (const auth of [undefined, `Bearer ${"x".repeat(43)}`, `Bearer ${TOKEN}x`, TOKEN]) {
      const r = await releaseLock(auth);
      expect(r.status, String(auth)).toBe(401);
      expect(await r.json()).toMatchObject({ error: { name: "Unauthorized" } });
    }
    // Also routes that do not exist stay behind the token: nothing is learned without it.
    expect((await app.request("/v1/ops/nope", { method: "POST" })).status).toBe(401);
    expect(await engine.store.getLock("auth", "development")).toMatchObject({ operation: "deploy" });
  });

  it("the right token runs the operation", async () => {
    await plantStaleLock();
    const r = await releaseLock(`Bearer ${TOKEN}`);
    expect(r.status).toBe(200);
    const lines = (await r.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; result?: unknown });
    expect(lines.at(-1)).toMatchObject({ type: "result", result: { released: true } });
    expect(await engine.store.getLock("auth", "development")).toBeUndefined();
  });
});
