/**
 * `slipway --version` as the first argument prints package.json's version (and the daemon reports
 * the same); after a command, `--version V` stays that command's release label. Colours follow
 * FORCE_COLOR, NO_COLOR and --no-color.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { BIN, ROOT } from "./harness.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const dir = mkdtempSync(join(tmpdir(), "slipway-version-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = { NO_COLOR: "1" }) {
  const base: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: join(dir, "home") };
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...base, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("slipway --version", () => {
  it("prints package.json's version as the first argument, -V too", () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-V"]) {
      const r = run([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${VERSION}\n`);
    }
  });

  it("after a command it is still the release label", () => {
    expect(run(["init"]).code).toBe(0);
    const plan = run(["plan", "development", "--version", "v9-label", "--in-process"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("version v9-label)");
    const dry = run(["deploy", "development", "--version", "v10-label", "--dry-run", "--in-process"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("version v10-label)");
    expect(dry.stdout).not.toContain(VERSION + "\n");
  });

  it("the daemon reports the same version on /v1/health", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, "serve", "--port", String(port)], {
      env: { ...process.env, SLIPWAY_HOME: join(dir, "daemon-home") },
      stdio: "ignore",
    });
    try {
      let body: { version?: string } | undefined;
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/v1/health`)
          .then((r) => r.json() as Promise<{ version: string }>)
          .catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)));
      }
      expect(body?.version).toBe(VERSION);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});

describe("colours", () => {
  const painted = new RegExp(String.fromCharCode(27) + "\\[\\d+m");
  it("FORCE_COLOR paints output into a pipe; NO_COLOR and --no-color win over it", () => {
    const args = ["plan", "development", "--version", "v1", "--in-process"];
    expect(run(args, { FORCE_COLOR: "1" }).stdout).toMatch(painted);
    expect(run(args, {}).stdout).not.toMatch(painted);
    expect(run(args, { FORCE_COLOR: "1", NO_COLOR: "1" }).stdout).not.toMatch(painted);
    expect(run([...args, "--no-color"], { FORCE_COLOR: "1" }).stdout).not.toMatch(painted);
  });
});
