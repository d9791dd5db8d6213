/** The run marker: an unmarked marker of a dead daemon (or of this pid with another start time) is an unclean stop. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { selfIdentity } from "../util/pid.js";
import { markDaemonStart, markDaemonStop } from "./daemon-state.js";

const dirs: string[] = [];
const home = () => {
  const d = mkdtempSync(join(tmpdir(), "slipway-run-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the daemon's run marker", () => {
  it("reports a first start and a start after a clean stop as clean", () => {
    const h = home();
    expect(markDaemonStart(h, "t1").afterUncleanStop).toBe(false);
    markDaemonStop(h);
    expect(markDaemonStart(h, "t2").afterUncleanStop).toBe(false);
    expect(statSync(join(h, "daemon.run")).mode & 0o777).toBe(0o600);
  });

  it("reports a predecessor with this very pid but another start time (pid 1 in a container) as an unclean stop", () => {
    const h = home();
    const { pid, startTime } = selfIdentity();
    const marker = { pid, startTime: String(Number(startTime) - 5), startedAt: "2026-12-06T08:00:00.000Z" };
    writeFileSync(join(h, "daemon.run"), JSON.stringify(marker));
    const run = markDaemonStart(h, "now");
    expect(run).toMatchObject({ afterUncleanStop: true, previousStartedAt: marker.startedAt, pid });
  });
});
