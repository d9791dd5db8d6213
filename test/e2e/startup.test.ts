/**
 * Start-up weight: what a CLI command loads before it talks to the daemon. Read-only commands
 * must not pay for the schema (zod), databases, Docker or mail libraries.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, ROOT } from "./harness.js";

function loadedPackages(args: string[]): string[] {
  return packagesOf(trace(args));
}

function trace(args: string[]): string {
  const out = join(mkdtempSync(join(tmpdir(), "slipway-trace-")), "trace.txt");
  spawnSync(
    process.execPath,
    [
      "--import",
      join(ROOT, "test/support/trace-imports.mjs"),
      BIN,
      "-f",
      join(ROOT, "examples/quickstart/slipway.yaml"),
      ...args,
    ],
    // An unreachable daemon: the command loads what it needs, then fails to connect.
    { env: { ...process.env, TRACE_IMPORTS_OUT: out }, encoding: "utf8", timeout: 30_000 },
  );
  let text = "";
  try {
    text = readFileSync(out, "utf8");
  } catch {
    /* nothing recorded */
  }
  return text;
}

function packagesOf(text: string): string[] {
  return [...new Set([...text.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].map((m) => m[1]))].sort();
}

/** The command modules (dist/cli/commands/*.js) a run loaded. */
function commandModules(text: string): string[] {
  return [...new Set([...text.matchAll(/cli\/commands\/([\w-]+)\.js/g)].map((m) => m[1]))].sort();
}

// croner is small and validates cron expressions in the schema, so a deploy may load it.
const HEAVY = ["zod", "better-sqlite3", "pg", "dockerode", "nodemailer", "ioredis", "mysql2", "hono"];

describe("CLI start-up weight", () => {
  it("read-only commands load only the CLI parser and YAML", () => {
    for (const cmd of [
      ["status", "development"],
      ["history", "development"],
      ["lock", "development"],
    ]) {
      const pkgs = loadedPackages([...cmd, "--server", "http://127.0.0.1:9"]);
      expect(pkgs, cmd.join(" ")).toEqual(["commander", "yaml"]);
    }
  });

  it("a deploy through the daemon resolves the spec (zod) but loads no driver, store or channel", () => {
    const pkgs = loadedPackages(["deploy", "development", "--server", "http://127.0.0.1:9"]);
    expect(pkgs).toContain("zod");
    for (const p of HEAVY.filter((x) => x !== "zod")) expect(pkgs, p).not.toContain(p);
  });

  it("a deploy or rollback loads neither the JSON Schema nor the Compose import", () => {
    for (const cmd of ["deploy", "rollback"]) {
      const text = trace([cmd, "development", "--server", "http://127.0.0.1:9"]);
      expect(text, cmd).toContain("spec/resolve.js");
      expect(text, cmd).not.toMatch(/compose\/import\.js|spec\/json-schema\.js/);
    }
  });

  it("a command loads its own command module only; help and unknown names load them all", () => {
    const server = ["--server", "http://127.0.0.1:9"];
    expect(commandModules(trace(["rollback", "development", ...server]))).toEqual(["rollback"]);
    expect(commandModules(trace(["--json", "health", "development", ...server]))).toEqual(["status"]);
    expect(commandModules(trace(["tokens", "list", ...server]))).toEqual(["users"]);
    // help lists every command; a misspelt one gets commander's suggestion from all of them
    expect(commandModules(trace(["--help"])).length).toBeGreaterThan(25);
    expect(commandModules(trace(["rollbak", "development"])).length).toBeGreaterThan(25);
  });
});
