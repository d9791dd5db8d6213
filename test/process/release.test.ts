import {
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  readlinkSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DriverError } from "../../src/errors.js";
import { waitFor } from "../support/ports.js";
import { NODE, request, sandbox, service, type Sandbox } from "./helpers.js";

let sb: Sandbox | undefined;
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

describe("releases", () => {
  it("copies the path (minus .git) into a read-only release dir, reuses it, and prunes old ones", async () => {
    sb = sandbox({ "server.mjs": "// v1", "package.json": "{}" });
    mkdirSync(join(sb.app, ".git"));
    writeFileSync(join(sb.app, ".git", "HEAD"), "ref");
    mkdirSync(join(sb.app, "node_modules", "dep"), { recursive: true });
    writeFileSync(join(sb.app, "node_modules", "dep", "index.js"), "x");
    symlinkSync("server.mjs", join(sb.app, "link.mjs"));
    const svc = service(sb.app);
    const a1 = await sb.driver.prepare("hello", "dev", svc, 1);
    expect(a1).toEqual({
      service: "web",
      revision: 1,
      ref: join(sb.home, "releases", "hello", "dev", "web", "r1"),
    });
    expect(readFileSync(join(a1.ref, "server.mjs"), "utf8")).toBe("// v1");
    expect(existsSync(join(a1.ref, "node_modules", "dep", "index.js"))).toBe(true);
    expect(existsSync(join(a1.ref, ".git"))).toBe(false);
    expect(readlinkSync(join(a1.ref, "link.mjs"))).toBe("server.mjs");
    expect(statSync(join(a1.ref, "server.mjs")).mode & 0o222).toBe(0);
    expect(statSync(a1.ref).mode & 0o222).toBe(0);

    // Immutable: a changed source does not change an existing release.
    writeFileSync(join(sb.app, "server.mjs"), "// v2");
    await sb.driver.prepare("hello", "dev", svc, 1);
    expect(readFileSync(join(a1.ref, "server.mjs"), "utf8")).toBe("// v1");
    const a2 = await sb.driver.prepare("hello", "dev", svc, 2);
    const a3 = await sb.driver.prepare("hello", "dev", svc, 3);
    expect(readFileSync(join(a2.ref, "server.mjs"), "utf8")).toBe("// v2");

    await sb.driver.prepare("hello", "dev", svc, 4);
    await sb.driver.prune("hello", "dev", "web", [3, 4]);
    expect([1, 2, 3, 4].map((r) => existsSync(sb!.driver.releaseDir("hello", "dev", "web", r)))).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(existsSync(a3.ref)).toBe(true);
  });

  it("prune never removes a release a live instance runs from", async () => {
    sb = sandbox({});
    const svc = service(sb.app, { run: "sleep 30", port: undefined });
    const inst = await sb.driver.start(await request(sb.driver, svc, { revision: 5 }));
    await sb.driver.prepare("hello", "dev", svc, 6);
    await sb.driver.prune("hello", "dev", "web", [6]);
    expect(existsSync(sb.driver.releaseDir("hello", "dev", "web", 5))).toBe(true);
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
    await sb.driver.prune("hello", "dev", "web", [6]);
    expect(existsSync(sb.driver.releaseDir("hello", "dev", "web", 5))).toBe(false);
  });
});

describe("runOnce", () => {
  it("runs in the release dir with the env, captures output and exit code", async () => {
    sb = sandbox({
      "migrate.sh": "echo migrating $SLIPWAY_SERVICE r$SLIPWAY_REVISION $DB; pwd; echo warn >&2; exit 7",
    });
    const req = await request(sb.driver, service(sb.app), { env: { DB: "postgres://x" } });
    const r = await sb.driver.runOnce(req, "sh migrate.sh", { timeoutMs: 10_000 });
    expect(r.exitCode).toBe(7);
    expect(r.output).toContain("migrating web r1 postgres://x");
    expect(r.output).toContain(req.artifact.ref);
    expect(r.output).toContain("warn");
    expect((await sb.driver.runOnce(req, "true", { timeoutMs: 10_000 })).exitCode).toBe(0);
  });

  it("kills the whole command group on timeout (exit 124) and on abort (exit 130)", async () => {
    sb = sandbox({});
    const req = await request(sb.driver, service(sb.app));
    const marker = join(sb.home, "child-survived");
    const t = await sb.driver.runOnce(req, `(sleep 1.5; touch ${marker}) & echo started; sleep 30`, {
      timeoutMs: 300,
    });
    expect(t.exitCode).toBe(124);
    expect(t.output).toContain("started");
    expect(t.output).toContain("timed out after 300 ms");
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const a = await sb.driver.runOnce(req, "sleep 30", { timeoutMs: 10_000, signal: ac.signal });
    expect(a.exitCode).toBe(130);
    // The background child of the timed-out command died with its group.
    await new Promise((r) => setTimeout(r, 1600));
    expect(existsSync(marker)).toBe(false);
  });

  it("a missing release dir is a DriverError", async () => {
    sb = sandbox({});
    const req = await request(sb.driver, service(sb.app));
    req.artifact = { ...req.artifact, ref: join(sb.home, "gone") };
    await expect(sb.driver.runOnce(req, "true", { timeoutMs: 1000 })).rejects.toBeInstanceOf(DriverError);
  });
});

describe("stats", () => {
  it("reports CPU and resident memory of a busy instance's process group", async () => {
    // Busy about half of the time, in a child process: stats sum over the group.
    const busy = `
      import { spawn } from "node:child_process";
      spawn(process.execPath, ["-e", "setInterval(() => { const e = Date.now() + 50; while (Date.now() < e); }, 100)"], { stdio: "inherit" });
      setInterval(() => {}, 1000);`;
    sb = sandbox({ "busy.mjs": busy });
    const svc = service(sb.app, { run: `${NODE} busy.mjs`, port: undefined });
    const inst = await sb.driver.start(await request(sb.driver, svc));
    const s = await waitFor(async () => {
      const x = await sb!.driver.stats(inst);
      return x && x.cpu > 0 ? x : undefined;
    });
    expect(s.cpu).toBeGreaterThan(0);
    expect(s.memory).toBeGreaterThan(10 * 1024 * 1024);
    await sb.driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
    expect(await sb.driver.stats(inst)).toBeUndefined();
  });
});
