/**
 * Leave unchanged services alone (issue 13 item 0), with real processes: a deploy that changes
 * only `web` keeps the stateful `cache` running as it is (same instance, same pid, its old
 * SLIPWAY_VERSION), shows it `unchanged` in plan, --dry-run and history; --force-recreate and a
 * change of the cache's own files recreate it; rollback still works with a kept service.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, type Project } from "./harness.js";

const CACHE = `
console.log("cache " + process.env.SLIPWAY_VERSION + " up");
setInterval(() => {}, 1000);
process.on("SIGTERM", () => process.exit(0));
`;

type Inst = { id: string; revision: number; version: string; pid?: number };
type StatusJson = { result: { services: { name: string; instances: Inst[] }[] } };
type PlanStep = { kind: string; service?: string; change?: string; description: string };
type Step = { kind: string; service?: string; status: string; message?: string };

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

function useSpec(p: Project): void {
  mkdirSync(join(p.dir, "cache"), { recursive: true });
  writeFileSync(join(p.dir, "cache", "cache.js"), CACHE);
  writeFileSync(join(p.dir, "cache", "package.json"), '{ "type": "module" }');
  writeFileSync(
    p.file,
    `project: e2e
environments:
  development:
    target: process
services:
  web:
    run: node app.js
    path: ./app
    port: ${p.ports.web}
    # The release label is part of web's spec: every version is a new web.
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    stop: { grace: 2s }
    rollout: { drainTimeout: 2s }
  cache:
    run: node cache.js
    path: ./cache
    stateful: true
    stop: { grace: 2s }
`,
  );
}

const instances = (p: Project, svc: string): Inst[] =>
  p
    .cli(["status", "development", "--json"])
    .json<StatusJson>()
    .result.services.find((s) => s.name === svc)?.instances ?? [];

const planOf = (p: Project, args: string[]): PlanStep[] => {
  const r = p.cli(args);
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { result: { steps: PlanStep[] } | { plan: { steps: PlanStep[] } } };
  return "steps" in doc.result ? doc.result.steps : doc.result.plan.steps;
};

const stepFor = (steps: PlanStep[], svc: string) =>
  steps.find((s) => s.service === svc && (s.kind === "rollout" || s.kind === "carry"));

describe("unchanged services are left alone", () => {
  it("keeps the cache running across a web-only deploy; --force-recreate and a file change recreate it", async () => {
    const p = (project = await makeProject());
    useSpec(p);
    const d1 = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d1.code, d1.stderr).toBe(0);
    const [cache1] = instances(p, "cache");
    expect(cache1).toMatchObject({ revision: 1, version: "v1" });
    expect(cache1.pid).toBeGreaterThan(0);

    // plan and --dry-run say what will happen: web rolls out, cache is unchanged.
    const planned = planOf(p, ["plan", "development", "--version", "v2", "--json"]);
    expect(stepFor(planned, "web")).toMatchObject({ kind: "rollout", change: "update" });
    expect(stepFor(planned, "cache")).toMatchObject({ kind: "carry", change: "unchanged" });
    expect(planned.some((s) => s.kind === "prepare" && s.service === "cache")).toBe(false);
    const dry = planOf(p, ["deploy", "development", "--version", "v2", "--dry-run", "--json"]);
    expect(stepFor(dry, "cache")).toMatchObject({ kind: "carry", change: "unchanged" });
    expect(p.cli(["plan", "development", "--version", "v2"]).stdout).toMatch(/cache unchanged/);

    const d2 = p.cli(["deploy", "development", "--version", "v2"]);
    expect(d2.code, d2.stderr).toBe(0);
    expect((await p.get("web")).body).toBe("v2");
    const [cache2] = instances(p, "cache");
    // The same instance and process, still labelled with the release that started it.
    expect(cache2).toEqual(cache1);
    const h2 = p
      .cli(["history", "development", "2", "--json"])
      .json<{ result: { steps: Step[]; revision: { facts: { carried?: Record<string, number> } } }[] }>()
      .result[0];
    expect(h2.steps.find((s) => s.service === "cache")).toMatchObject({ kind: "carry", status: "ok" });
    expect(h2.steps.find((s) => s.service === "cache")?.message).toMatch(/carried over/);
    expect(h2.revision.facts.carried).toEqual({ cache: 1 });

    // --force-recreate cache: recreated although nothing changed.
    const forced = planOf(p, [
      "plan",
      "development",
      "--version",
      "v3",
      "--force-recreate",
      "cache",
      "--json",
    ]);
    expect(stepFor(forced, "cache")).toMatchObject({ kind: "rollout" });
    const d3 = p.cli(["deploy", "development", "--version", "v3", "--force-recreate", "cache"]);
    expect(d3.code, d3.stderr).toBe(0);
    const [cache3] = instances(p, "cache");
    expect(cache3).toMatchObject({ revision: 3, version: "v3" });
    expect(cache3.id).not.toBe(cache1.id);
    expect(cache3.pid).not.toBe(cache1.pid);

    // The cache's own code changed: a new release of it.
    writeFileSync(join(p.dir, "cache", "cache.js"), `${CACHE}\n// changed\n`);
    expect(stepFor(planOf(p, ["plan", "development", "--version", "v4", "--json"]), "cache")).toMatchObject({
      kind: "rollout",
    });
    const d4 = p.cli(["deploy", "development", "--version", "v4"]);
    expect(d4.code, d4.stderr).toBe(0);
    const [cache4] = instances(p, "cache");
    expect(cache4).toMatchObject({ revision: 4, version: "v4" });

    // A deploy that changes only web again keeps the v4 cache; rolling back to r4 works, and
    // the next deploy after the rollback still knows the cache is unchanged.
    expect(p.cli(["deploy", "development", "--version", "v5"]).code).toBe(0);
    expect(instances(p, "cache")[0]).toEqual(cache4);
    const rb = p.cli(["rollback", "development", "4"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect((await p.get("web")).body).toBe("v4");
    expect(instances(p, "cache")).toHaveLength(1);
    const after = planOf(p, ["plan", "development", "--version", "v4", "--json"]);
    expect(stepFor(after, "cache")).toMatchObject({ kind: "carry" });
    expect(stepFor(after, "web")).toMatchObject({ kind: "carry" });
  }, 240_000);
});
