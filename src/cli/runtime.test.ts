/** The default release label: the spec directory's short git sha (marked when dirty), else a timestamp. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defaultVersion } from "./runtime.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "slipway-version-"));
  dirs.push(d);
  return d;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd: dir,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
  }).trim();
}

describe("defaultVersion", () => {
  it("is the short sha of a git checkout, with -dirty when the directory has changes", () => {
    const dir = tempDir();
    git(dir, "init", "-q");
    writeFileSync(join(dir, "slipway.yaml"), "project: x\n");
    git(dir, "add", ".");
    git(dir, "commit", "-q", "-m", "first");
    const sha = git(dir, "rev-parse", "--short", "HEAD");
    expect(sha).toMatch(/^[0-9a-f]{7,}$/);
    expect(defaultVersion(dir)).toBe(sha);
    writeFileSync(join(dir, "slipway.yaml"), "project: y\n");
    expect(defaultVersion(dir)).toBe(`${sha}-dirty`);
  });

  it("is a UTC timestamp (yyyymmddhhmmss) outside a git checkout", () => {
    const dir = tempDir();
    const before = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const v = defaultVersion(dir);
    const after = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
    expect(v).toMatch(/^\d{14}$/);
    expect(v >= before && v <= after).toBe(true);
  });
});
