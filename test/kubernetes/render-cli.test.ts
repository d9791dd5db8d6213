/** `slipway render` through the real binary (bin/slipway.js, built dist/). */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BIN } from "../e2e/harness.js";
import { validateManifest } from "../support/kube-schema.js";
import { exampleProject } from "./fixtures.js";

function run(cwd: string, ...args: string[]) {
  // JWT_SECRET is deliberately unset: a render needs no secret values.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
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
