/**
 * `slipway restart ENV [SVC]` through the daemon: fresh instances of the current revision under
 * continuous load through the proxy, with no failed request; recorded in history as a restart.
 */
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";
import { startLoad, type Load } from "./load.js";

let project: Project | undefined;
let load: Load | undefined;
afterEach(async () => {
  await load?.stop();
  load = undefined;
  await project?.cleanup();
  project = undefined;
});

interface StatusJson {
  result: { services: { name: string; instances: { id: string; revision: number; version: string }[] }[] };
}

const ids = (p: Project, svc: string) =>
  p
    .cli(["status", "development", "--json"])
    .json<StatusJson>()
    .result.services.find((s) => s.name === svc)!
    .instances.map((i) => i.id);

describe("rolling restart", () => {
  it("replaces the instances of one service with no failed request; history records it", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const apiBefore = ids(p, "api");
    const webBefore = ids(p, "web");
    const l = (load = startLoad({ url: `http://127.0.0.1:${p.ports.api}`, concurrency: 4, rate: 100 }));
    await new Promise((r) => setTimeout(r, 1000));

    const r = await p.cliAsync(["restart", "development", "api", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).result).toMatchObject({ revision: 2, version: "v1", status: "deployed" });
    await new Promise((res) => setTimeout(res, 1000));
    const report = await l.stop();
    load = undefined;
    expect(report.failures, JSON.stringify(report.errors)).toBe(0);
    expect(report.requests).toBeGreaterThan(50);
    expect(Object.keys(report.versions)).toEqual(["v1"]);

    const apiAfter = ids(p, "api");
    expect(apiAfter).toHaveLength(1);
    expect(apiAfter).not.toEqual(apiBefore);
    expect(ids(p, "web")).toEqual(webBefore); // the other services are left alone

    const h = p.cli(["history", "development", "2", "--json"]).json<{
      result: {
        revision: { description: string; facts: { restart?: unknown; carried?: Record<string, number> } };
      }[];
    }>();
    expect(h.result[0].revision.description).toBe("restart api (revision 1)");
    expect(h.result[0].revision.facts.restart).toEqual({ of: 1, services: ["api"] });
    expect(h.result[0].revision.facts.carried).toMatchObject({ web: 1, worker: 1 });

    // A restart of everything, then a deploy and a rollback to the restarted revision still work.
    expect(p.cli(["restart", "development"]).code).toBe(0);
    expect(p.cli(["deploy", "development", "--version", "v2"]).code).toBe(0);
    const rb = p.cli(["rollback", "development", "2"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect((await p.get("web")).body).toBe("v1");
    expect(p.cli(["restart", "development", "nope"]).code).toBe(2);
  });
});
