/**
 * SLIPWAY_HOME is the user's alone (issue 11 item 4): a home that group or others can enter is
 * refused (exit 4); under a umask of 000 every file and directory a deploy creates in it (store,
 * state, logs, releases, proxy snapshot, token, keys) is still 0600/0700; a release does not
 * carry `.env*` files the spec does not name.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiOnlySpec, BIN, makeProject, type Project } from "./harness.js";

let p: Project;
beforeAll(async () => {
  p = await makeProject();
  writeFileSync(join(p.dir, "app", ".env"), "DATABASE_URL=postgres://prod:canary-pw@db/prod\n");
  writeFileSync(join(p.dir, "app", ".env.local"), "X=1\n");
  writeFileSync(join(p.dir, "app", ".env.keep"), "KEPT=1\n");
  mkdirSync(join(p.dir, "app", ".env.d"));
  writeFileSync(
    p.file,
    apiOnlySpec(p.ports.api, { env: 'DOTENV_FILE: ".env.keep"', rollout: "strategy: blue-green", rest: "" }),
  );
});
afterAll(() => p?.cleanup());

/** The CLI under a umask that takes nothing away: modes must come from Slipway itself. */
function cliUmask0(args: string[]) {
  const cmd = [process.execPath, BIN, "-f", p.file, ...args].map((a) => `'${a}'`).join(" ");
  return spawnSync("sh", ["-c", `umask 000; exec ${cmd}`], {
    env: p.env,
    encoding: "utf8",
    timeout: 120_000,
  });
}

function walk(dir: string, out: { path: string; mode: number; dir: boolean }[] = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink() || st.isSocket()) continue;
    out.push({ path, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) walk(path, out);
  }
  return out;
}

describe("SLIPWAY_HOME", () => {
  it("is refused (exit 4) when its group or others can reach it, and says how to fix it", () => {
    mkdirSync(p.home, { recursive: true });
    chmodSync(p.home, 0o755);
    const r = p.cli(["status", "development"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`SLIPWAY_HOME ${p.home} is accessible to its group and others (mode 0755)`);
    expect(r.stderr).toContain(`chmod 700 ${p.home}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const inProcess = p.cli(["status", "development", "--in-process", "--json"]);
    expect(inProcess.code).toBe(4);
    expect(inProcess.json<{ error: { name: string } }>().error.name).toBe("Refused");
    chmodSync(p.home, 0o700);
  });

  it("holds only private files (0600/0700) after a deploy under umask 000; releases leave unnamed .env files out", () => {
    const r = cliUmask0(["deploy", "development", "--version", "v1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(p.cli(["logs", "development", "api", "--tail", "5"]).code).toBe(0);
    const entries = walk(p.home);
    // The proxy snapshot, the store, the instance state, logs, releases, keys: all there.
    for (const part of ["daemon.json", "fingerprint.key", "/releases/", "/logs/", ".json"])
      expect(
        entries.some((e) => e.path.includes(part)),
        part,
      ).toBe(true);
    const open = entries.filter((e) => e.mode & 0o077).map((e) => `${e.mode.toString(8)} ${e.path}`);
    expect(open).toEqual([]);
    const releases = entries.filter((e) => e.dir && /\/releases\/.*\/r1$/.test(e.path));
    expect(releases).toHaveLength(1);
    const rel = releases[0].path;
    expect(existsSync(join(rel, "app.js"))).toBe(true);
    expect(existsSync(join(rel, ".env"))).toBe(false);
    expect(existsSync(join(rel, ".env.local"))).toBe(false);
    expect(existsSync(join(rel, ".env.keep"))).toBe(true); // named by the spec (env DOTENV_FILE)
    expect(existsSync(join(rel, ".env.d"))).toBe(true); // a directory (a virtualenv) is kept
  });
});
