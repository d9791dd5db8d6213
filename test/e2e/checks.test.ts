/** The pre-flight checklist as users meet it: `slipway check`, and the first step of deploy. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appProcesses, makeProject, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

const CHECKS = `checks:
  - command: test -f ready.flag
    name: release flag present
  - env: { required: [JWT_SECRET], minLength: { JWT_SECRET: 32 } }
  - confirm: ["team notified"]
`;

describe("pre-flight checks", () => {
  it("a failing check stops the deploy before anything changes; passing ones let it through", async () => {
    const p = (project = await makeProject(CHECKS));
    const env = { JWT_SECRET: "CHANGE_THIS" };
    const c = p.cli(["check", "development", "--in-process"], { env });
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/✖ .*release flag present/);
    expect(c.stderr).toMatch(/JWT_SECRET/);
    expect(c.stderr).not.toContain("CHANGE_THIS"); // evidence never prints the value
    expect(c.stderr).toMatch(/team notified/);

    const d = p.cli(["deploy", "development", "--in-process"], { env });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/pre-flight checks failed/);
    expect(appProcesses(p.dir)).toEqual([]);
    const h = p
      .cli(["history", "development", "--json", "--in-process"])
      .json<{ result: { revision: { status: string } }[] }>();
    expect(h.result[0].revision.status).toBe("failed");

    writeFileSync(join(p.dir, "ready.flag"), "");
    const good = { JWT_SECRET: "k8Jd93-a7Qm2Lx0pZr4Tv6Wb1Nc5Hy7Ue9Gs3Kf" };
    const ok = p.cli(
      ["deploy", "development", "--in-process", "--confirm", "team notified", "--version", "c1"],
      { env: good },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/✔ .*release flag present/);
    expect((await p.get("api")).body).toBe("c1");

    // --skip-checks is recorded in the revision.
    const skip = p.cli(
      ["deploy", "development", "--in-process", "--skip-checks", "--version", "c2", "--json"],
      { env },
    );
    expect(skip.code, skip.stderr).toBe(0);
    const rev = p
      .cli(["history", "development", "--json", "--in-process"])
      .json<{ result: { revision: { skipChecks: boolean; version: string } }[] }>();
    expect(rev.result[0].revision).toMatchObject({ version: "c2", skipChecks: true });
  });
});
