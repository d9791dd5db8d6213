/** Release retention: `retain` after each deploy, and `slipway prune`. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

describe("prune", () => {
  it("keeps `retain` earlier releases after a deploy; prune --keep 0 leaves only the live one", async () => {
    const p = (project = await makeProject());
    const releases = () => readdirSync(join(p.home, "releases", "e2e", "development", "api")).sort();
    for (const v of ["v1", "v2", "v3", "v4", "v5"])
      expect(p.cli(["deploy", "development", "--in-process", "--version", v]).code).toBe(0);
    // retain defaults to 3 earlier releases besides the current one.
    expect(releases()).toEqual(["r2", "r3", "r4", "r5"]);
    const r = p.cli(["prune", "development", "--keep", "0", "--in-process"]);
    expect(r.code, r.stderr).toBe(0);
    expect(releases()).toEqual(["r5"]);
    expect((await p.get("api")).body).toBe("v5");
    // A rollback to a pruned release says so instead of half-starting.
    const rb = p.cli(["rollback", "development", "2", "--in-process"]);
    expect(rb.code).toBe(1);
    expect((await p.get("api")).body).toBe("v5");
  });

  it("a rollback after destroy says the releases went with it, not to raise retain", async () => {
    const p = (project = await makeProject());
    for (const v of ["v1", "v2"])
      expect(p.cli(["deploy", "development", "--in-process", "--version", v]).code).toBe(0);
    expect(p.cli(["destroy", "development", "--in-process"]).code).toBe(0);
    const rb = p.cli(["rollback", "development", "--in-process"]);
    expect(rb.code).toBe(1);
    expect(rb.stderr).toMatch(/removed by `slipway destroy`.*cannot be restored: deploy it again/);
  });
});
