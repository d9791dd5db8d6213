import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessDriver } from "../../src/drivers/process/process-driver.js";
import { makeHealthGate } from "../../src/engine/health-gate.js";
import { healthSchema } from "../../src/spec/schema.js";
import { groupMembers, readStat } from "../../src/drivers/process/procfs.js";
import { pidAlive as isAlive } from "../../src/util/pid.js";
import { waitFor } from "../support/ports.js";
import { SERVER_JS, filesUnder, request, sandbox, service, type Sandbox } from "./helpers.js";

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const SECRET = "s3cr3t-" + Math.random().toString(36).slice(2);

describe("ProcessDriver lifecycle", () => {
  it("starts an instance on its own $PORT with the env, and stop() takes the whole group down", async () => {
    sb = sandbox({ "server.mjs": SERVER_JS });
    const { driver, home } = sb;
    const svc = service(sb.app);
    const req = await request(driver, svc, { env: { GREETING: "hi", SECRET } });
    const inst = await driver.start(req);

    expect(inst.id).toMatch(/^web-r1-0-[0-9a-f]{6}$/);
    expect(inst.host).toBe("127.0.0.1");
    expect(inst.port).toBeGreaterThan(0);
    expect(inst.port).not.toBe(8080);
    expect(inst.pid).toBeGreaterThan(0);
    expect(inst.appPid).toBeGreaterThan(0);
    expect(inst.meta?.startTime).toBe(readStat(inst.pid as number)?.startTime);

    const env = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${inst.port}/env`);
      return (await r.json()) as Record<string, string>;
    });
    expect(env).toMatchObject({
      PORT: String(inst.port),
      SLIPWAY_VERSION: "v1.2.3",
      SLIPWAY_ENV: "dev",
      SLIPWAY_SERVICE: "web",
      SLIPWAY_REVISION: "1",
      SLIPWAY_INSTANCE: inst.id,
      GREETING: "hi",
      cwd: req.artifact.ref,
      secretHash: createHash("sha256").update(SECRET).digest("hex"),
    });

    // The secret reaches the app only: not the shim's argv or environment, no file under home.
    const shimPid = inst.pid as number;
    expect(readFileSync(`/proc/${shimPid}/cmdline`, "utf8")).not.toContain(SECRET);
    expect(readFileSync(`/proc/${shimPid}/environ`, "utf8")).not.toContain(SECRET);
    for (const f of filesUnder(home)) expect(readFileSync(f, "utf8"), f).not.toContain(SECRET);

    const group = inst.appPid as number;
    expect(groupMembers(group).length).toBeGreaterThan(0);
    await driver.stop(inst, { signal: "SIGTERM", graceMs: 3000 });
    expect(isAlive(shimPid)).toBe(false);
    expect(groupMembers(group)).toEqual([]);
    expect(existsSync(join(home, "instances", "hello", "dev", inst.id))).toBe(false);
    expect(await driver.inspect("hello", "dev")).toEqual([]);
    // The log survives the instance, for failure messages and `slipway logs`.
    const last = await driver.lastLogLines(inst, 5);
    expect(last.join("\n")).toContain("got SIGTERM");
    expect(existsSync(join(home, "logs", "hello", "dev", "web", inst.id, "app.log"))).toBe(true);
  });

  it("health.exec runs in the release directory with the instance's $PORT, also once adopted", async () => {
    sb = sandbox({ "server.mjs": SERVER_JS, "ready.sh": 'test -n "$PORT" && test -f server.mjs\n' });
    const health = healthSchema.parse({ exec: "sh ./ready.sh", interval: "100ms", startTimeout: "5s" });
    const svc = service(sb.app, { health });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const gate = makeHealthGate(); // the process target has no exec: the probe runs here
    expect(await gate(svc, inst, undefined)).toMatchObject({ healthy: true });
    const [adopted] = await new ProcessDriver({ home: sb.home }).inspect("hello", "dev");
    expect(await gate(svc, adopted, undefined, { once: true })).toMatchObject({ healthy: true });
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 3000 });
  });

  it("kill -9 of the shim: inspect() drops the instance and the app does not survive as an orphan", async () => {
    sb = sandbox({ "server.mjs": SERVER_JS });
    const inst = await sb.driver.start(await request(sb.driver, service(sb.app)));
    await waitFor(() => fetch(`http://127.0.0.1:${inst.port}/`).then((r) => r.ok));
    process.kill(inst.pid as number, "SIGKILL");
    await waitFor(() => !isAlive(inst.pid as number), { what: "shim gone" });
    // The app is in its own session: still alive until the driver notices.
    expect(groupMembers(inst.appPid as number).length).toBeGreaterThan(0);
    const fresh = new ProcessDriver({ home: sb.home });
    expect(await fresh.inspect("hello", "dev")).toEqual([]);
    await waitFor(() => groupMembers(inst.appPid as number).length === 0, { what: "app group gone" });
    await expect(fetch(`http://127.0.0.1:${inst.port}/`)).rejects.toThrow();
    expect(existsSync(join(sb.home, "instances", "hello", "dev", inst.id))).toBe(false);
  });

  it("pid reuse guard: a recorded pid now owned by another process is neither adopted nor killed", async () => {
    sb = sandbox({});
    // An unrelated process in its own group, standing in for whoever got the recycled pids.
    const other = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    try {
      const pid = other.pid as number;
      await waitFor(() => readStat(pid));
      const realStart = readStat(pid)?.startTime as number;
      const dir = join(sb.home, "instances", "hello", "dev", "web-r1-0-abcdef");
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "state.json"),
        JSON.stringify({
          id: "web-r1-0-abcdef",
          project: "hello",
          env: "dev",
          service: "web",
          revision: 1,
          version: "v1",
          slot: "stable",
          index: 0,
          state: "running",
          shimPid: pid,
          shimStartTime: realStart - 1,
          appPid: pid,
          appStartTime: realStart - 1,
          startedAt: new Date().toISOString(),
          restarts: 0,
        }),
      );
      expect(await sb.driver.inspect("hello", "dev")).toEqual([]);
      expect(isAlive(pid)).toBe(true);
      expect(existsSync(dir)).toBe(false);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("start() with a command that cannot run still returns, and the failure is in the logs", async () => {
    sb = sandbox({});
    const svc = service(sb.app, {
      run: "echo boom >&2; exit 3",
      restart: { ...service(sb.app).restart, policy: "no" },
    });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const [live] = await waitFor(async () => {
      const l = await sb!.driver.inspect("hello", "dev");
      return l[0]?.state === "exited" ? l : undefined;
    });
    expect(live.lastExit?.code).toBe(3);
    expect((await sb.driver.lastLogLines(inst, 5)).join("\n")).toContain("! boom");
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
  });

  it("names what is wrong: missing path, missing run, bad signal", async () => {
    sb = sandbox({});
    const svc = service(join(sb.app, "nope"));
    await expect(sb.driver.prepare("hello", "dev", svc, 1)).rejects.toThrow(
      /process: service "web": path ".*nope" does not exist or is not a directory \(services.web.path\)/,
    );
    const req = await request(sb.driver, service(sb.app, { run: undefined }));
    await expect(sb.driver.start(req)).rejects.toThrow(/service "web" has no "run" command/);
    const bad = await request(
      sb.driver,
      service(sb.app, { stop: { signal: "SIGNOPE" as "SIGTERM", grace: 1 } }),
    );
    await expect(sb.driver.start(bad)).rejects.toThrow(/unknown stop signal "SIGNOPE"/);
  });
});
