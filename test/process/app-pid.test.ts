/**
 * The pid the driver reports is the application's own (the process listening on $PORT), not a
 * `/bin/sh -c` wrapper's, and the stop signal reaches that process; commands that need the shell
 * (pipes, lists) still run.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
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

const PID_JS = `
import http from "node:http";
const srv = http.createServer((req, res) =>
  res.end(JSON.stringify({ pid: process.pid, greeting: process.env.GREETING ?? null })));
srv.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => {
  console.log("got SIGTERM in " + process.pid);
  setTimeout(() => process.exit(0), 300); // inside the grace: no SIGKILL needed
});
`;

/** Pids with an open socket listening on 127.0.0.1:port (from /proc/net/tcp and /proc/PID/fd). */
function listeners(port: number): number[] {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set(
    readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === "0A")
      .map((f) => `socket:[${f[9]}]`),
  );
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readdirSync(`/proc/${name}/fd`).some((fd) => inodes.has(readlinkSync(`/proc/${name}/fd/${fd}`))))
        pids.push(Number(name));
    } catch {
      /* gone or not ours */
    }
  }
  return pids;
}

async function answer(inst: Instance): Promise<{ pid: number; greeting: string | null }> {
  return waitFor(async () => (await fetch(`http://127.0.0.1:${inst.port}/`)).json());
}

describe("process instance pids", () => {
  it("inspect() reports the pid that listens on $PORT, and SIGTERM reaches it", async () => {
    sb = sandbox({ "pid.mjs": PID_JS });
    const svc = service(sb.app, { run: `GREETING=hi ${NODE} pid.mjs` });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const app = await answer(inst);
    const [live] = await sb.driver.inspect("hello", "dev");
    expect(live.appPid).toBe(app.pid);
    expect(inst.appPid).toBe(app.pid);
    expect(listeners(inst.port as number)).toEqual([app.pid]);
    expect(readFileSync(`/proc/${app.pid}/cmdline`, "utf8")).toContain("pid.mjs");
    expect(app.greeting).toBe("hi"); // the NAME=value prefix still reaches the app
    expect(groupMembers(app.pid).map((p) => p.pid)).toEqual([app.pid]);

    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 3000 });
    const log = (await sb.driver.lastLogLines(inst, 10)).join("\n");
    expect(log).toContain(`got SIGTERM in ${app.pid}`);
    expect(log).not.toContain("SIGKILL");
    expect(groupMembers(app.pid)).toEqual([]);
  });

  it("a command that needs the shell (a pipe, a list) still runs and stops as a group", async () => {
    sb = sandbox({ "pid.mjs": PID_JS });
    for (const run of [`${NODE} pid.mjs 2>&1 | cat`, `true && GREETING=yo ${NODE} pid.mjs`]) {
      const svc = service(sb.app, { run });
      const inst = await sb.driver.start(await request(sb.driver, svc));
      const app = await answer(inst);
      expect(listeners(inst.port as number), run).toEqual([app.pid]);
      await waitFor(async () => (await sb!.driver.lastLogLines(inst, 5)).join("\n").includes("listening"));
      await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 3000 });
      // Through a pipe, `cat` gets the group's SIGTERM too, so the app's last words may be lost.
      if (!run.includes("|"))
        expect((await sb.driver.lastLogLines(inst, 10)).join("\n"), run).toContain(
          `got SIGTERM in ${app.pid}`,
        );
      expect(groupMembers(inst.appPid as number), run).toEqual([]);
    }
  });
});
