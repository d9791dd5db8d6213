/**
 * `slipway scale ENV SVC N` with real processes under load through the proxy: up and down with no
 * failed request, no new revision, kept by a deploy whose spec did not change `replicas`, dropped
 * by one that did, and refused for an autoscaled service.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";
import { startLoad } from "./load.js";

let p: Project;
beforeAll(async () => {
  p = await makeProject();
});
afterAll(async () => p?.cleanup());

interface StatusJson {
  result: {
    revision: { number: number };
    services: {
      name: string;
      replicas: number;
      scaled?: { from: number };
      instances: { revision: number }[];
    }[];
  };
}
// While the load runs, the CLI is spawned asynchronously: a blocked event loop would make the
// load's pooled keep-alive sockets fail on their own.
const status = async (svc: string) => {
  const s = (await p.cliAsync(["status", "development", "--json"])).json<StatusJson>().result;
  const x = s.services.find((v) => v.name === svc)!;
  return { revision: s.revision.number, replicas: x.replicas, scaled: x.scaled, running: x.instances.length };
};

describe("scale", () => {
  it("scales up and down under load, no revision; the next deploy keeps it unless the spec changes replicas", async () => {
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const load = startLoad({ url: `http://127.0.0.1:${p.ports.api}`, concurrency: 4, rate: 100 });
    await new Promise((r) => setTimeout(r, 500));
    const up = await p.cliAsync(["scale", "development", "api", "3", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.json<{ result: { from: number; to: number; started: string[] } }>().result).toMatchObject({
      from: 1,
      to: 3,
      started: [expect.any(String), expect.any(String)],
    });
    expect(await status("api")).toEqual({
      revision: 1,
      replicas: 3,
      scaled: { from: 1, by: expect.any(String) },
      running: 3,
    });
    await new Promise((r) => setTimeout(r, 500));

    // The same release again: api is unchanged and keeps its three instances.
    const same = await p.cliAsync(["deploy", "development", "--version", "v1", "--json"]);
    expect(same.code, same.stderr).toBe(0);
    expect(await status("api")).toMatchObject({ revision: 2, replicas: 3, running: 3 });
    // A new release rolls out three.
    expect((await p.cliAsync(["deploy", "development", "--version", "v2"])).code).toBe(0);
    expect(await status("api")).toMatchObject({ revision: 3, replicas: 3, running: 3 });

    const down = await p.cliAsync(["scale", "development", "api", "2"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/api: 3 → 2 instance\(s\) of revision 3/);
    expect(await status("api")).toMatchObject({ revision: 3, replicas: 2, running: 2 });
    const report = await load.stop();
    expect(report.failures, JSON.stringify(report.errors)).toBe(0);
    expect(report.requests).toBeGreaterThan(100);

    // The spec now says replicas: 4 — it wins over the scaled 2, and the record is gone.
    const spec = readFileSync(p.file, "utf8");
    writeFileSync(
      p.file,
      spec.replace(
        "    path: ./app\n    port: " + p.ports.api,
        `    path: ./app\n    replicas: 4\n    port: ${p.ports.api}`,
      ),
    );
    expect(p.cli(["deploy", "development", "--version", "v3"]).code).toBe(0);
    expect(await status("api")).toEqual({ revision: 4, replicas: 4, scaled: undefined, running: 4 });

    // Refusals: an autoscaled service (exit 4), a stateful one above 1, a bad count (exit 2).
    writeFileSync(
      p.file,
      readFileSync(p.file, "utf8").replace(
        "    replicas: 4\n",
        "    replicas: 4\n    autoscale: { min: 2, max: 6 }\n",
      ),
    );
    expect(p.cli(["deploy", "development", "--version", "v3"]).code).toBe(0);
    const auto = p.cli(["scale", "development", "api", "5"]);
    expect(auto.code).toBe(4);
    expect(auto.stderr).toMatch(/api is autoscaled \(min 2, max 6\): the autoscaler owns its replica count/);
    expect(p.cli(["scale", "development", "api", "two"]).code).toBe(2);
    expect(p.cli(["scale", "development", "nope", "2"]).stderr).toMatch(/no service "nope"/);
  }, 180_000);
});
