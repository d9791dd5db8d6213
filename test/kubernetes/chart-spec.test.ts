/** What the spec says about a `chart:` service: it rolls out the chart's way, its counts are values. */
import { describe, expect, it } from "vitest";
import { plan } from "../../src/engine/plan.js";
import { resolveExample } from "./fixtures.js";

const yaml = (extra: string) => `project: plat
environments:
  production:
    target: { kind: kubernetes, namespace: plat }
services:
  tools:
    chart: ./charts/tools
    values: { replicaCount: 2 }
${extra}`;

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
});
