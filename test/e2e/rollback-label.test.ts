/**
 * `slipway rollback ENV REF` through the daemon: an existing revision number means that revision,
 * anything else a release label (the newest revision with it); --label forces a label; no match
 * lists the candidates and exits 2.
 */
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface RbJson {
  result: { revision: number; version: string };
}

describe("rollback by label", () => {
  it("finds a revision by its label, a number by its revision, and lists candidates", async () => {
    const p = (project = await makeProject());
    // Revision 2's label is "1": a label that looks like a revision number.
    for (const v of ["v1.2.3", "1", "v1.3.0"]) {
      const d = p.cli(["deploy", "development", "--version", v]);
      expect(d.code, d.stderr).toBe(0);
    }
    const byLabel = p.cli(["rollback", "development", "v1.2.3", "--json"]);
    expect(byLabel.code, byLabel.stderr).toBe(0);
    expect(byLabel.json<RbJson>().result).toMatchObject({ revision: 4, version: "v1.2.3" });
    expect((await p.get("web")).body).toBe("v1.2.3");

    // "1" is revision 1 (an existing number) …
    const byNumber = p.cli(["rollback", "development", "1", "--dry-run", "--json"]);
    expect(byNumber.code, byNumber.stderr).toBe(0);
    expect(byNumber.stderr + byNumber.stdout).not.toContain("not found");
    expect(p.cli(["rollback", "development", "1", "--json"]).json<RbJson>().result.version).toBe("v1.2.3");
    // … unless --label says it is a label: revision 2.
    const forced = p.cli(["rollback", "development", "--label", "1", "--json"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json<RbJson>().result).toMatchObject({ revision: 6, version: "1" });
    expect((await p.get("web")).body).toBe("1");

    // The newest revision with the label: revision 6 re-applied "1", so it is the one now found.
    const none = p.cli(["rollback", "development", "v9.9.9", "--json"]);
    expect(none.code).toBe(2);
    const err = none.json<{ error: { message: string; details: { candidates: { version: string }[] } } }>()
      .error;
    expect(err.message).toMatch(
      /no revision of development has the label "v9\.9\.9"; candidates: 1 \(revision 6\)/,
    );
    expect(err.details.candidates.map((c) => c.version)).toContain("v1.3.0");
    const human = p.cli(["rollback", "development", "v9.9.9"]);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain("v1.3.0 (revision 3)");
  });
});
