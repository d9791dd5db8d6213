import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { identityAlive, processStartTime, selfIdentity } from "./pid.js";

describe("process identity", () => {
  it("knows this process by pid and start time", () => {
    const me = selfIdentity();
    expect(me.pid).toBe(process.pid);
    expect(me.startTime).toMatch(/^\d+$/);
    expect(identityAlive(me.pid, me.startTime)).toBe(true);
  });

  it("treats a live pid with another start time as a different process (pid reuse)", () => {
    const me = selfIdentity();
    expect(identityAlive(me.pid, String(Number(me.startTime) - 1))).toBe(false);
  });

  it("sees a dead child as gone, and without a recorded start time falls back to the pid", async () => {
    const child = spawn("sleep", ["30"]);
    const pid = child.pid as number;
    const start = processStartTime(pid);
    expect(identityAlive(pid, start)).toBe(true);
    expect(identityAlive(pid, undefined)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(identityAlive(pid, start)).toBe(false);
  });
});
