/**
 * Groups of services (seed 004's `deploy-all.sh --libraries-only` / `--skip-libraries`) with real
 * processes: `plan` shows the groups' layers, `--group`/`--skip-group` deploy whole groups, and a
 * failure in a later group puts the earlier groups back as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

let p: Project;
beforeAll(async () => {
  p = await makeProject(
    "groups: [{ name: libraries, members: [api], description: shared services }, { name: apps, members: [web, worker] }]\n",
  );
});
afterAll(async () => p?.cleanup());

interface PlanJson {
  result: { groups: { name: string; layers: string[][] }[]; layers: string[][]; services: string[] };
}
interface StatusJson {
  result: { services: { name: string; instances: { revision: number; version: string }[] }[] };
}
const running = (svc: string) =>
  p
    .cli(["status", "development", "--json", "--in-process"])
    .json<StatusJson>()
    .result.services.find((s) => s.name === svc)
    ?.instances.map((i) => `r${i.revision} ${i.version}`) ?? [];

describe("groups", () => {
  it("plans, deploys and skips whole groups, in order; a later group's failure undoes the earlier", async () => {
    const plan = p.cli(["plan", "development", "--json"]).json<PlanJson>().result;
    expect(plan.groups).toEqual([
      { name: "libraries", description: "shared services", layers: [["api"]] },
      { name: "apps", layers: [["web", "worker"]] },
    ]);
    const human = p.cli(["plan", "development", "--skip-checks"]).stdout;
    expect(human).toMatch(
      /group libraries \(shared services\): api\n.*start api[\s\S]*group apps: web, worker/,
    );

    // --libraries-only
    const libs = p.cli(["deploy", "development", "--group", "libraries", "--version", "v1"]);
    expect(libs.code, libs.stderr).toBe(0);
    expect(running("api")).toEqual(["r1 v1"]);
    expect(running("web")).toEqual([]);
    // --skip-libraries: the apps join; api keeps its revision-1 instance
    const apps = p.cli(["deploy", "development", "--skip-group", "libraries", "--version", "v1", "--json"]);
    expect(apps.code, apps.stderr).toBe(0);
    expect(apps.json<{ result: { services: string[] } }>().result.services.sort()).toEqual(["web", "worker"]);
    expect(running("api")).toEqual(["r1 v1"]);
    expect(running("web")).toEqual(["r2 v1"]);

    // v2: libraries roll out first; web (apps) never gets healthy → api goes back to v1 too
    const bad = p.cli(["deploy", "development", "--version", "v2", "--json"], {
      env: { WEB_FAIL_HEALTH: "1", WEB_START_TIMEOUT: "2s" },
    });
    expect(bad.code).toBe(1);
    const steps = bad
      .json<{ error: { details: { steps: { kind: string; service?: string; status: string }[] } } }>()
      .error.details.steps.filter((s) => s.kind === "rollout" || s.kind === "undo");
    expect(steps.map((s) => `${s.kind} ${s.service} ${s.status}`)).toEqual(
      expect.arrayContaining(["rollout api ok", "rollout web failed", "undo api ok"]),
    );
    expect((await p.get("api")).body).toBe("v1");
    expect((await p.get("web")).body).toBe("v1");

    const wrong = p.cli(["deploy", "development", "--group", "app"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/no group "app" \(did you mean "apps"\?\)/);
  });
});
