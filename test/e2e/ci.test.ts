/**
 * docs/ci.md's pipelines: both run examples/ci/slipway-ci.sh; this runs that script as they do
 * (real CLI, in-process, a real app on the process target): refused by the checklist (exit 1,
 * nothing deployed), then deployed (exit 0), with the JSON artifacts the pipelines upload.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort } from "../support/ports.js";
import { APP, BIN, ROOT } from "./harness.js";

const SCRIPT = join(ROOT, "examples", "ci", "slipway-ci.sh");

describe("the CI pipeline of docs/ci.md", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-ci-"));
  const home = join(dir, "home");
  const env = { ...process.env, NO_COLOR: "1", SLIPWAY_HOME: home, SLIPWAY: `${process.execPath} ${BIN}` };
  const pipeline = (version: string) =>
    spawnSync("sh", [SCRIPT, "staging", version], { cwd: dir, env, encoding: "utf8" });
  afterAll(() => {
    spawnSync(process.execPath, [BIN, "--in-process", "destroy", "staging", "--yes"], { cwd: dir, env });
    // destroy leaves the proxy the deploy started (docs/ci.md says so): stop it with its home.
    const proxyPid = join(home, "proxy", "proxy.pid");
    if (existsSync(proxyPid)) process.kill(Number(readFileSync(proxyPid, "utf8").trim()), "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("GitHub Actions and GitLab CI both run the same script", () => {
    const gh = parse(readFileSync(join(ROOT, "examples/ci/github-actions.yml"), "utf8")) as {
      jobs: { deploy: { steps: { run?: string; uses?: string; if?: string }[] } };
    };
    const runs = gh.jobs.deploy.steps.map((s) => s.run ?? "").filter((r) => r.includes("slipway-ci.sh"));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^sh examples\/ci\/slipway-ci\.sh /);
    const upload = gh.jobs.deploy.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.if).toBe("always()");
    const gl = parse(readFileSync(join(ROOT, "examples/ci/gitlab-ci.yml"), "utf8")) as Record<
      string,
      { script?: string[]; artifacts?: { when: string; paths: string[] } }
    >;
    expect(gl[".slipway"]?.script?.some((l) => l.startsWith("sh examples/ci/slipway-ci.sh "))).toBe(true);
    expect(gl[".slipway"]?.artifacts).toEqual({ when: "always", paths: ["slipway-artifacts/"] });
    expect(readFileSync(join(ROOT, "docs/ci.md"), "utf8")).toContain(readFileSync(SCRIPT, "utf8"));
  });

  it("exits 1 without deploying when the checklist fails, then deploys and keeps the history", async () => {
    const port = await freePort();
    mkdirSync(join(dir, "app"));
    writeFileSync(join(dir, "app", "server.js"), APP);
    writeFileSync(
      join(dir, "slipway.yaml"),
      `project: ci-${port}
environments:
  staging: { target: process }
checks:
  - command: test -f release-notes.md
services:
  web:
    run: node server.js
    path: ./app
    port: ${port}
    health: { http: /health, interval: 200ms }
`,
    );
    const refused = pipeline("v1");
    expect(refused.status, refused.stderr).toBe(1);
    expect(refused.stdout).toContain("checks failed");
    // The reason is in the job's log, not only in the artifact.
    expect(refused.stdout).toContain("slipway: pre-flight checks failed: 0 passed, 1 failed");
    expect(JSON.parse(readFileSync(join(dir, "slipway-artifacts", "check.json"), "utf8"))).toMatchObject({
      ok: false,
    });
    expect(existsSync(join(dir, "slipway-artifacts", "deploy.json"))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, "slipway-artifacts", "history.json"), "utf8")).result).toEqual(
      [],
    );

    // A wrong environment: exit 2, and the job's log says why.
    const unknown = spawnSync("sh", [SCRIPT, "prod"], { cwd: dir, env, encoding: "utf8" });
    expect(unknown.status, unknown.stderr).toBe(2);
    expect(unknown.stdout).toContain('no environment "prod"');

    writeFileSync(join(dir, "release-notes.md"), "v2\n");
    const ok = pipeline("v2");
    expect(ok.status, ok.stderr).toBe(0);
    const deploy = JSON.parse(readFileSync(join(dir, "slipway-artifacts", "deploy.json"), "utf8"));
    expect(deploy.result).toMatchObject({ revision: 1, version: "v2" });
    const history = JSON.parse(readFileSync(join(dir, "slipway-artifacts", "history.json"), "utf8"));
    type Entry = { revision: { number: number; status: string; version: string } };
    expect(
      history.result.map((e: Entry) => [e.revision.number, e.revision.status, e.revision.version]),
    ).toEqual([[1, "deployed", "v2"]]);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toContain("v2");

    // A usage error (an environment the spec does not define): exit 2, said so, and the artifacts
    // are this run's only (the last run's deploy.json is not left to be uploaded again).
    const usage = spawnSync("sh", [SCRIPT, "nope", "v3"], { cwd: dir, env, encoding: "utf8" });
    expect(usage.status, usage.stderr).toBe(2);
    expect(usage.stdout).toContain("slipway: nope not deployed: spec or usage error");
    const check = JSON.parse(readFileSync(join(dir, "slipway-artifacts", "check.json"), "utf8"));
    expect(check.error.message).toContain('no environment "nope"');
    expect(existsSync(join(dir, "slipway-artifacts", "deploy.json"))).toBe(false);
  }, 120_000);
});
