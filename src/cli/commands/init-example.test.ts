import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../core.js";
import { EXAMPLES_DIR, copyExample, exampleNames } from "./init-example.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "slipway-init-example-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("init --example", () => {
  it("lists the examples that hold a slipway.yaml (not examples/ci)", () => {
    const names = exampleNames();
    expect(names).toContain("runbook-api");
    expect(names).toContain("agent-platform");
    expect(names).toContain("quickstart");
    expect(names).toContain("platform-helm");
    expect(names).toContain("ai-education-platform");
    expect(names).not.toContain("ci");
  });

  it("every example has the README.md that init's next step says to read", () => {
    const missing = exampleNames().filter((n) => !existsSync(join(EXAMPLES_DIR, n, "README.md")));
    expect(missing).toEqual([]);
  });

  it("copies every file, makes env files private and keeps scripts executable", () => {
    const dest = tmp();
    const r = copyExample("runbook-api", dest);
    expect(readFileSync(join(dest, "slipway.yaml"), "utf8")).toBe(
      readFileSync(join(EXAMPLES_DIR, "runbook-api", "slipway.yaml"), "utf8"),
    );
    expect(r.private).toContain(join("deployment", "config", ".env.production"));
    expect(statSync(join(dest, "deployment/config/.env.production")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dest, "migrations/migrate.sh")).mode & 0o111).not.toBe(0);
    expect(r.environment).toBe("development");
    // platform-helm has no development environment: the next steps name staging.
    expect(copyExample("platform-helm", tmp()).environment).toBe("staging");
  });

  it("refuses an unknown name listing the available ones, and existing files without force", () => {
    expect(() => copyExample("nope", tmp())).toThrow(UsageError);
    expect(() => copyExample("nope", tmp())).toThrow(/no example named "nope"; available: .*runbook-api/);
    const dest = tmp();
    writeFileSync(join(dest, "slipway.yaml"), "mine\n");
    expect(() => copyExample("runbook-api", dest)).toThrow(/already exist here .*slipway\.yaml/);
    expect(readFileSync(join(dest, "slipway.yaml"), "utf8")).toBe("mine\n");
    copyExample("runbook-api", dest, true);
    expect(readFileSync(join(dest, "slipway.yaml"), "utf8")).not.toBe("mine\n");
  });
});
