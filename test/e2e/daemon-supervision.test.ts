/**
 * The daemon under a supervisor (issue 11 item 11): `serve --install` writes a systemd unit that
 * restarts it; `status` says when the daemon answering it started after an unclean stop (while it
 * was down nothing watched or healed), and a clean stop is not reported as one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pidAlive } from "../../src/util/pid.js";
import { daemonPid, killDaemon, makeProject, waitFor, type Project } from "./harness.js";

interface StatusJson {
  result: { daemon?: { pid: number; startedAt: string; afterUncleanStop: boolean } };
}

let p: Project;
beforeAll(async () => {
  p = await makeProject();
});
afterAll(() => p?.cleanup());

async function stopDaemon(signal: NodeJS.Signals): Promise<void> {
  const pid = daemonPid(p.home);
  expect(pid).toBeDefined();
  killDaemon(p.home, signal);
  await waitFor(() => !pidAlive(pid), { what: `daemon ${pid} gone` });
}

describe("the daemon's supervision", () => {
  it("status says the daemon started after an unclean stop, and not after a clean one", async () => {
    const first = p.cli(["status", "development", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json<StatusJson>().result.daemon).toMatchObject({ afterUncleanStop: false });

    await stopDaemon("SIGKILL");
    const after = p.cli(["status", "development", "--json"]);
    expect(after.code, after.stderr).toBe(0);
    const d = after.json<StatusJson>().result.daemon;
    expect(d).toMatchObject({ afterUncleanStop: true, pid: daemonPid(p.home) });
    const human = p.cli(["status", "development"]);
    expect(human.stdout).toMatch(/daemon started \S+ ago after an unclean stop/);

    await stopDaemon("SIGTERM");
    const clean = p.cli(["status", "development", "--json"]);
    expect(clean.json<StatusJson>().result.daemon).toMatchObject({ afterUncleanStop: false });
    expect(p.cli(["status", "development"]).stdout).not.toContain("unclean stop");
  });

  it("serve --install writes a systemd unit that restarts `slipway serve` for this SLIPWAY_HOME", () => {
    const file = join(p.dir, "units", "slipway.service");
    const r = p.cli(["serve", "--install", "--port", "7999", "--unit-file", file, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.json<{ result: { path: string; written: boolean; enable: string[] } }>().result;
    expect(out.path).toBe(file);
    const unit = readFileSync(out.path, "utf8");
    expect(unit).toContain(`Environment=SLIPWAY_HOME=${p.home}`);
    expect(unit).toMatch(/^ExecStart=\S+ \S+slipway\.js serve --host 127\.0\.0\.1 --port 7999$/m);
    expect(unit).toContain("Restart=always");
    expect(unit).toContain("KillMode=process");
    expect(out.enable.join("\n")).toContain("enable --now slipway.service");

    const human = p.cli(["serve", "--install", "--unit-file", file]);
    expect(human.stdout).toContain(`wrote ${out.path}`);
    for (const other of ["OpenRC", "launchd", "supervisord"]) expect(human.stdout).toContain(other);

    const printed = p.cli(["serve", "--install", "--print", "--port", "7999"]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout.trim()).toBe(unit.trim());
    expect(printed.stderr).toContain("supervisord");

    // The proxy's worker processes are a machine-wide setting of the daemon: kept in the unit.
    const workers = p.cli(["serve", "--install", "--print", "--port", "7999", "--proxy-workers", "auto"]);
    expect(workers.code, workers.stderr).toBe(0);
    expect(workers.stdout).toMatch(
      /^ExecStart=\S+ \S+slipway\.js serve .*--port 7999 --proxy-workers auto$/m,
    );
    const bad = p.cli(["serve", "--install", "--print", "--proxy-workers", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--proxy-workers "0" is not a number of worker processes from 1 to 64 or "auto"',
    );
  });
});
