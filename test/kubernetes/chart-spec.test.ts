/** What the spec says about a `chart:` service: it rolls out the chart's way, its counts are values. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "../../src/spec/load.js";
import { resolveSpec } from "../../src/spec/resolve.js";
import { plan } from "../../src/engine/plan.js";
import { exampleProject } from "./fixtures.js";
import { SpecError } from "../../src/errors.js";

const yaml = (extra: string) => `project: plat
environments:
  production:
    target: { kind: kubernetes, namespace: plat }
services:
  tools:
    chart: ./charts/tools
    values: { replicaCount: 2 }
${extra}`;

/** The spec resolved in a directory holding ./charts/tools (and values-prod.yaml unless `bare`). */
function resolveExample(text: string, opts: { bare?: boolean } = {}) {
  const { dir, file } = exampleProject(text);
  if (!opts.bare) {
    mkdirSync(join(dir, "charts", "tools"), { recursive: true });
    writeFileSync(join(dir, "values-prod.yaml"), "replicaCount: 3\n");
  }
  return resolveSpec(parseSpecText(text, file), { env: "production", version: "1" });
}

describe("chart services in the spec", () => {
  it("roll out as the chart defines (one instance stands for the chart) and the plan says so", () => {
    const r = resolveExample(yaml(""));
    const svc = r.spec.services.tools;
    expect(svc).toMatchObject({ replicas: 1, rollout: { strategy: "recreate" } });
    const p = plan({ spec: r.spec, nextRevision: 1, live: [] });
    const step = p.steps.find((s) => s.kind === "rollout");
    expect(step?.description).toBe(
      "start tools (chart ./charts/tools: apply its objects, wait for its workloads' own rolling update)",
    );
  });

  it("refuse blue-green/canary and replicas with a located message", () => {
    expect(() => resolveExample(yaml("    rollout: { strategy: blue-green }\n    replicas: 3\n"))).toThrow(
      /chart rolls out the way the chart defines[\s\S]*replica counts are its values/,
    );
  });

  it("a local chart or values file that is not there is a located spec error (exit 2), not helm's later", () => {
    const text = yaml("    valuesFiles: [values-prod.yaml]\n");
    expect(() => resolveExample(text)).not.toThrow();
    let err: unknown;
    try {
      resolveExample(text, { bare: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    const issues = (err as SpecError).issues.map(
      (i) => `${i.line}:${i.column} ${i.path}: ${i.message.split(" (")[0]}`,
    );
    expect(issues).toEqual([
      "7:12 services.tools.chart: chart directory not found: ./charts/tools",
      "9:19 services.tools.valuesFiles.0: values file not found: values-prod.yaml",
    ]);
  });
});
