/**
 * secretAge and `slipway secrets ENV` through the real CLI: the age of a value runs from when
 * Slipway first saw it (a keyed hash in the store, never the value), the check warns inside the
 * warning window and fails past the age, a rotated value starts again, and the listing names
 * sources and ages but never a value.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

let p: Project;
const SECRET = "s3cr3t-value-that-must-never-be-stored-9f2c";
beforeAll(async () => {
  p = await makeProject();
  const spec = readFileSync(p.file, "utf8")
    .replace(
      "    target: process\n  production:",
      "    target: process\n    envFile: .env.development\n  production:",
    )
    .replace(
      '      RELEASE: "${VERSION}"\n      FAIL_HEALTH',
      '      RELEASE: "${VERSION}"\n      JWT_SECRET: "${JWT_SECRET}"\n      FAIL_HEALTH',
    );
  writeFileSync(p.file, `${spec}checks:\n  - secretAge: { JWT_SECRET: 30s, API_TOKEN: 90d }\n`);
  writeFileSync(join(p.dir, ".env.development"), `JWT_SECRET=${SECRET}\n`);
});
afterAll(async () => p?.cleanup());

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

interface Listing {
  result: {
    secrets: {
      name: string;
      source: string;
      ageDays: number;
      maxAgeDays?: number;
      state: string;
      previousFirstSeen?: string;
    }[];
  };
}

describe("secretAge", () => {
  it("warns near the age, fails after it, starts again when rotated; secrets lists names, sources and ages only", async () => {
    const t0 = Date.now();
    const first = p.cli(["check", "development", "--in-process"], { env: { API_TOKEN: "tok-abc-123456" } });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toMatch(
      /JWT_SECRET \(envFile \.env\.development\): 0 day\(s\) old, max 0/,
    );

    const list = p.cli(["secrets", "development", "--json", "--in-process"], {
      env: { API_TOKEN: "tok-abc-123456" },
    });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain(SECRET);
    expect(list.stdout).not.toContain("tok-abc-123456");
    const rows = list.json<Listing>().result.secrets;
    expect(rows).toEqual([
      expect.objectContaining({
        name: "API_TOKEN",
        source: "caller environment",
        ageDays: 0,
        maxAgeDays: 90,
        state: "ok",
      }),
      expect.objectContaining({ name: "JWT_SECRET", source: "envFile .env.development", state: "ok" }),
    ]);
    const human = p.cli(["secrets", "development", "--in-process"], {
      env: { API_TOKEN: "tok-abc-123456" },
    }).stdout;
    expect(human).toMatch(
      /NAME\s+SOURCE\s+AGE\s+LIMIT\s+STATE\nAPI_TOKEN\s+caller environment\s+0d\s+90d\s+ok/,
    );

    // Inside the last half of 30s: a warning, the deploy may go on (exit 0).
    await sleepUntil(t0 + 16_000);
    const warn = p.cli(["check", "development", "--in-process"], { env: { API_TOKEN: "tok-abc-123456" } });
    expect(warn.code, warn.stdout).toBe(0);
    expect(warn.stdout + warn.stderr).toMatch(/rotate it soon/);
    // Past it: failed (exit 1).
    await sleepUntil(t0 + 31_000);
    const late = p.cli(["check", "development", "--in-process"], { env: { API_TOKEN: "tok-abc-123456" } });
    expect(late.code).toBe(1);
    expect(late.stdout + late.stderr).toMatch(/JWT_SECRET .* past its age: rotate it/);
    // Without the caller's value, API_TOKEN keeps the age recorded when it was last seen.
    const none = p.cli(["check", "development", "--in-process"]);
    expect(none.stdout + none.stderr).toMatch(/API_TOKEN \(caller environment\): 0 day\(s\) old, max 90/);

    // Rotated: a new value, a new age.
    writeFileSync(join(p.dir, ".env.development"), "JWT_SECRET=rotated-value-0000000000000000\n");
    const rotated = p.cli(["check", "development", "--in-process"], { env: { API_TOKEN: "tok-abc-123456" } });
    expect(rotated.code, rotated.stdout).toBe(0);
    const after = p.cli(["secrets", "development", "--json", "--in-process"], {
      env: { API_TOKEN: "tok-abc-123456" },
    });
    expect(after.json<Listing>().result.secrets.find((s) => s.name === "JWT_SECRET")).toMatchObject({
      state: "ok",
      previousFirstSeen: expect.any(String),
    });

    // Nothing under SLIPWAY_HOME holds a value; the key is 0600.
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const path = join(d, f);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(p.home);
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes(SECRET), f).toBe(false);
      expect(bytes.includes("tok-abc-123456"), f).toBe(false);
    }
    expect(statSync(join(p.home, "fingerprint.key")).mode & 0o777).toBe(0o600);
  }, 120_000);
});
