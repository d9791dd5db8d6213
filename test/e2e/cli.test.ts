/** Commands that need no running services: init, validate, schema, docs. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, waitFor } from "../support/ports.js";
import { BIN, ROOT } from "./harness.js";

function run(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("cli without services", () => {
  it("init writes a starter that validates and the app it runs, and refuses to overwrite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-init-"));
    expect(run(dir, "init").code).toBe(0);
    expect(run(dir, "validate").code).toBe(0);
    const again = run(dir, "init");
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    // The starter's `run: node server.js` has its server.js: it answers /health on $PORT.
    const port = await freePort();
    const app = spawn(process.execPath, ["server.js"], {
      cwd: dir,
      env: { ...process.env, PORT: String(port) },
    });
    try {
      const body = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      });
      expect(body).toBe("ok\n");
    } finally {
      app.kill();
    }
    // An app that is already there is kept.
    const mine = mkdtempSync(join(tmpdir(), "slipway-init-"));
    writeFileSync(join(mine, "server.js"), "// mine\n");
    const r = run(mine, "init");
    expect(r.stdout).toContain("server.js exists");
    expect(readFileSync(join(mine, "server.js"), "utf8")).toBe("// mine\n");
  });

  it("init --from-compose maps the GPU stack and lists what it could not map", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-init-"));
    const r = run(dir, "init", "--from-compose", join(ROOT, "test/docker/fixtures/gpu-stack.compose.yml"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/could not be mapped/);
    const spec = readFileSync(join(dir, "slipway.yaml"), "utf8");
    expect(spec).toMatch(/llm-server:/);
    expect(spec).toMatch(/devices: \[\s*"?0"?,\s*"?1"?\s*\]|devices:\n\s+- "?0"?\n\s+- "?1"?/);
    expect(run(dir, "validate").code).toBe(0);
  });

  it("unknown commands and options exit 2 without a stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-cli-"));
    for (const args of [["bogus"], ["deploy"], ["status", "dev", "--nope"]]) {
      const r = run(dir, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("schema is a JSON Schema of the spec and docs/reference.md is generated from it", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-cli-"));
    const schema = JSON.parse(run(dir, "schema").stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["project", "environments", "services", "checks"]),
    );
    const docs = run(dir, "docs").stdout;
    expect(docs).toContain("`services.<name>.health.interval`");
    // The committed reference must be regenerated when the schema changes: `slipway docs > docs/reference.md`.
    expect(readFileSync(join(ROOT, "docs/reference.md"), "utf8")).toBe(docs);
  });

  it("validate refuses a ${VAR} in a shell field with a located message that shows the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-cli-"));
    writeFileSync(
      join(dir, "slipway.yaml"),
      `project: shop
environments:
  development: { target: process }
services:
  web:
    path: .
    run: "node server.js --password '\${DB_PASSWORD}'"
`,
    );
    const r = run(dir, "validate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${join(dir, "slipway.yaml")}:7:10: services.web.run: \${DB_PASSWORD} would be pasted`,
    );
    expect(r.stderr).toContain(
      'env: { DB_PASSWORD: "${DB_PASSWORD}" }) and write "$DB_PASSWORD" in the command',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const bad = run(dir, "plan", "development", "--version", "v1;touch /tmp/x", "--in-process");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--version "v1;touch /tmp/x": a release label is 1–128 letters');
  });

  it("a missing spec file says what to do", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-cli-"));
    writeFileSync(join(dir, "other.yaml"), "project: x\n");
    const r = run(dir, "validate");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("spec file not found (create one with `slipway init`");
  });
});
