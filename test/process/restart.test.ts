import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { groupMembers } from "../../src/drivers/process/procfs.js";
import type { Instance } from "../../src/drivers/driver.js";
import { waitFor } from "../support/ports.js";
import { NODE, request, sandbox, service, type Sandbox } from "./helpers.js";

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

const CRASH_JS = `console.log("boot " + process.pid); setTimeout(() => process.exit(1), 20);`;

async function stateOf(sb: Sandbox, id: string): Promise<Instance | undefined> {
  return (await sb.driver.inspect("hello", "dev")).find((i) => i.id === id);
}

function appLog(sb: Sandbox, inst: Instance): string {
  return readFileSync(join(sb.home, "instances", "hello", "dev", inst.id, "logs", "app.log"), "utf8");
}

describe("restart policy", () => {
  it("restarts a crashed app with exponential backoff up to maxBackoff", async () => {
    sb = sandbox({ "crash.mjs": CRASH_JS });
    const base = service(sb.app);
    const svc = service(sb.app, {
      run: `${NODE} crash.mjs`,
      port: undefined,
      restart: { ...base.restart, backoff: 100, maxBackoff: 400 },
    });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const later = await waitFor(async () => {
      const s = await stateOf(sb!, inst.id);
      return s && s.restarts >= 4 ? s : undefined;
    });
    expect(later.appPid).not.toBe(inst.appPid);
    expect(later.lastExit?.code).toBe(1);
    const log = appLog(sb, inst);
    // The delays double and stop at maxBackoff.
    expect(log).toMatch(/restart 1 in 100 ms/);
    expect(log).toMatch(/restart 2 in 200 ms/);
    expect(log).toMatch(/restart 3 in 400 ms/);
    expect(log).toMatch(/restart 4 in 400 ms/);
    expect(log).not.toMatch(/crash loop/);
    expect(log.match(/stdout boot \d+/g)?.length).toBeGreaterThanOrEqual(4);
    await sb.driver.stop(later, { signal: "SIGTERM", graceMs: 1000 });
  });

  it("marks a crash loop after crashLoop.restarts within the window and keeps retrying at maxBackoff", async () => {
    sb = sandbox({ "crash.mjs": CRASH_JS });
    const svc = service(sb.app, {
      run: `${NODE} crash.mjs`,
      port: undefined,
      restart: {
        policy: "always",
        backoff: 50,
        maxBackoff: 300,
        crashLoop: { restarts: 3, within: 60_000, rollbackAfter: 0 },
      },
    });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const looping = await waitFor(async () => {
      const s = await stateOf(sb!, inst.id);
      return s?.state === "crashloop" ? s : undefined;
    });
    expect(looping.restarts).toBeGreaterThanOrEqual(2);
    // Still retried after being marked.
    await waitFor(async () => ((await stateOf(sb!, inst.id))?.restarts ?? 0) >= looping.restarts + 2);
    const log = appLog(sb, inst);
    expect(log).toMatch(/restart 3 in 300 ms \(crash loop\)/);
    expect(log).toMatch(/restart 4 in 300 ms \(crash loop\)/);
    await sb.driver.stop(looping, { signal: "SIGTERM", graceMs: 1000 });
  });

  it("a run that lasts the crash-loop window resets the backoff", async () => {
    // Runs 1.5 s, far longer than the 300 ms window: every restart starts again at `backoff`.
    sb = sandbox({ "slow-crash.mjs": `console.log("boot"); setTimeout(() => process.exit(1), 1500);` });
    const svc = service(sb.app, {
      run: `${NODE} slow-crash.mjs`,
      port: undefined,
      restart: {
        policy: "on-failure",
        backoff: 100,
        maxBackoff: 1000,
        crashLoop: { restarts: 2, within: 300, rollbackAfter: 0 },
      },
    });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    await waitFor(async () => ((await stateOf(sb!, inst.id))?.restarts ?? 0) >= 2, { timeoutMs: 30_000 });
    const log = appLog(sb, inst);
    expect(log).toMatch(/restart 1 in 100 ms/);
    expect(log).toMatch(/restart 2 in 100 ms/);
    expect(log).not.toMatch(/crash loop|in 200 ms/);
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
  });

  it("on-failure does not restart a clean exit", async () => {
    sb = sandbox({});
    const svc = service(sb.app, { run: "echo done", port: undefined });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const s = await waitFor(async () => {
      const x = await stateOf(sb!, inst.id);
      return x?.state === "exited" ? x : undefined;
    });
    expect(s.restarts).toBe(0);
    expect(s.lastExit?.code).toBe(0);
    await sb.driver.stop(s, { signal: "SIGTERM", graceMs: 1000 });
  });
});

describe("stop", () => {
  it("sends the configured signal to the whole group, then SIGKILL after the grace", async () => {
    // The app and a child both ignore SIGTERM: only the SIGKILL after the grace ends them.
    const stubborn = `
      import { spawn } from "node:child_process";
      process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
      process.on("SIGINT", () => console.log("got SIGINT"));
      spawn(process.execPath, ["-e", "process.on('SIGTERM',()=>{}); setInterval(()=>{},1000)"], { stdio: "ignore" });
      console.log("up");
      setInterval(() => {}, 1000);`;
    sb = sandbox({ "stubborn.mjs": stubborn });
    const svc = service(sb.app, { run: `${NODE} stubborn.mjs`, port: undefined });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    await waitFor(() => appLog(sb!, inst).includes("up"));
    await waitFor(() => groupMembers(inst.appPid as number).length >= 2, { what: "child in the group" });
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 500 });
    expect(groupMembers(inst.appPid as number)).toEqual([]);
    const log = (await sb.driver.lastLogLines(inst, 10)).join("\n");
    expect(log).toContain("ignoring SIGTERM");
    expect(log).toContain("grace period over: SIGKILL");

    // stop() options win over the spec: SIGINT this time.
    const inst2 = await sb.driver.start(await request(sb.driver, svc));
    await waitFor(() => appLog(sb!, inst2).includes("up"));
    await sb.driver.stop(inst2, { signal: "SIGINT", graceMs: 300 });
    expect((await sb.driver.lastLogLines(inst2, 10)).join("\n")).toContain("got SIGINT");
    expect(groupMembers(inst2.appPid as number)).toEqual([]);
  });
});
