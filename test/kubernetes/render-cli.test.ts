/** `slipway render` through the real binary (bin/slipway.js, built dist/). */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BIN } from "../e2e/harness.js";
import { validateManifest } from "../support/kube-schema.js";
import { kubeTools } from "../support/kube-tools.js";
import { exampleProject } from "./fixtures.js";

function run(cwd: string, ...args: string[]) {
  // JWT_SECRET is deliberately unset: a render needs no secret values.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", SLIPWAY_HELM: kubeTools().helm };
  delete env.JWT_SECRET;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("slipway render", () => {
  it("prints every manifest as multi-document YAML with secrets as references", () => {
    const { dir } = exampleProject();
    const r = run(dir, "render", "production", "--version", "2.0.0");
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map(
      (d) => d.toJSON() as { kind: string; metadata: { name: string } },
    );
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toContain("Deployment/api-r1");
    expect(docs).toHaveLength(10);
    for (const d of docs) validateManifest(d);
    expect(r.stdout).toContain("JWT_SECRET: ${JWT_SECRET}");
    expect(r.stdout).not.toContain("hunter2");
    expect(r.stdout).toContain("image: registry.example.com/runbook-api:2.0.0");
    expect(r.stderr).toContain("host path");
  });

  it("one service, a revision, --json", () => {
    const { dir } = exampleProject();
    const r = run(dir, "--json", "render", "production", "worker", "--revision", "4", "--version", "1");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      result: { manifests: { kind: string; metadata: { name: string } }[] };
    };
    expect(out.result.manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      "Namespace/runbook",
      "Deployment/worker-r4",
    ]);
  });

  it("refuses unknown services (exit 2) and non-Kubernetes environments", () => {
    const { dir } = exampleProject();
    expect(run(dir, "render", "production", "nope").code).toBe(2);
    const other = exampleProject(
      "project: p\nenvironments: { dev: { target: docker } }\nservices: { a: { image: x } }\n",
    );
    const r = run(other.dir, "render", "dev");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("docker target");
  });
});

describe("slipway render with a chart (the real helm v4 binary)", () => {
  it("renders the chart with its values files, then `values`, keeping the chart's names", async () => {
    const { dir } = exampleProject(
      [
        "project: runbook",
        "environments: { production: { target: { kind: kubernetes, namespace: runbook } } }",
        "services:",
        "  platform-tools:",
        "    chart: ./charts/tools",
        "    values: { replicaCount: 2 }",
        "    valuesFiles: [values-prod.yaml]",
        "",
      ].join("\n"),
    );
    const chart = join(dir, "charts", "tools");
    mkdirSync(join(chart, "templates"), { recursive: true });
    writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: tools\nversion: 0.1.0\n");
    writeFileSync(join(chart, "values.yaml"), "replicaCount: 1\nimage: tools:1\n");
    writeFileSync(
      join(chart, "templates", "deployment.yaml"),
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: { name: {{ .Release.Name }}-tools }",
        "spec:",
        "  replicas: {{ .Values.replicaCount }}",
        "  selector: { matchLabels: { app: tools } }",
        "  template:",
        "    metadata: { labels: { app: tools } }",
        "    spec: { containers: [{ name: tools, image: {{ .Values.image | quote }} }] }",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "values-prod.yaml"), "image: tools:prod\nreplicaCount: 5\n");
    const r = run(dir, "--json", "render", "production", "--version", "1");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { result: { manifests: Record<string, unknown>[] } };
    const dep = out.result.manifests.find((m) => m.kind === "Deployment") as {
      metadata: { name: string; namespace: string };
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
    };
    validateManifest(dep);
    expect(dep.metadata).toMatchObject({ name: "platform-tools-tools", namespace: "runbook" });
    expect(dep.spec.replicas).toBe(2); // `values` wins over the values file
    expect(dep.spec.template.spec.containers[0]?.image).toBe("tools:prod");
  }, 60_000);
});
