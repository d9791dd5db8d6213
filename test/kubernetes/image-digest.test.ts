/**
 * Image tags resolved to digests in the recorded revision, against a registry DOUBLE
 * (test/support/registry-double.ts: the OCI distribution `HEAD /v2/<name>/manifests/<tag>`) and the
 * Kubernetes API server DOUBLE, with the real CLI. No real registry is reachable from here.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseImageRef, resolveDigest } from "../../src/drivers/kubernetes/digest.js";
import { BIN } from "../e2e/harness.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { RegistryDouble } from "../support/registry-double.js";

let registry: RegistryDouble;
let double: KubeApiServerDouble;
let dir: string;

beforeAll(async () => {
  registry = await new RegistryDouble().start();
  double = await startKubeDouble();
  dir = mkdtempSync(join(tmpdir(), "slipway-k8s-digest-"));
  writeFileSync(join(dir, "kubeconfig"), double.kubeconfig({ context: "ctx", cluster: "c1" }));
});
afterAll(async () => {
  await registry?.close();
  await double?.close();
});

describe("resolveDigest (registry double)", () => {
  it("parses references the way Docker does", () => {
    expect(parseImageRef("nginx")).toEqual({
      registry: "registry-1.docker.io",
      repository: "library/nginx",
      tag: "latest",
    });
    expect(parseImageRef("registry.example.com:5000/team/api:1.2")).toEqual({
      registry: "registry.example.com:5000",
      repository: "team/api",
      tag: "1.2",
    });
    expect(parseImageRef("grafana/grafana:11")).toMatchObject({ repository: "grafana/grafana", tag: "11" });
  });

  it("answers the digest, follows the anonymous token dance, and says why when it cannot", async () => {
    const a = registry.tag("team/api", "1.0", "manifest a");
    expect(await resolveDigest(`${registry.host}/team/api:1.0`)).toEqual({ digest: a });
    registry.privateRepos.add("team/private");
    const p = registry.tag("team/private", "2", "manifest p");
    expect(await resolveDigest(`${registry.host}/team/private:2`)).toEqual({ digest: p });
    expect((await resolveDigest(`${registry.host}/team/api:nope`))?.note).toMatch(
      /^could not resolve digest \(127\.0\.0\.1:\d+ answered 404 for team\/api:nope\)/,
    );
    registry.silent.add("team/slow");
    const t0 = Date.now();
    expect((await resolveDigest(`${registry.host}/team/slow:1`, 300))?.note).toMatch(
      /could not resolve digest \(127\.0\.0\.1:\d+ did not answer within 0\.3s\)/,
    );
    expect(Date.now() - t0).toBeLessThan(3000);
    // Already pinned: never asked.
    const before = registry.requests.length;
    expect(await resolveDigest(`${registry.host}/team/api@${a}`)).toBeUndefined();
    expect(registry.requests.length).toBe(before);
  });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "--in-process", "--home", join(dir, ".home"), ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", KUBECONFIG: join(dir, "kubeconfig") },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const images = () =>
  double.objects("deployments", "web").map((d) => ({
    name: d.metadata?.name,
    image: (d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]
      ?.image,
  }));

describe("digests in the recorded revision (real CLI, both doubles)", () => {
  it("deploy pins the tag's digest; a rollback runs the recorded digest after the tag moved", async () => {
    writeFileSync(
      join(dir, "slipway.yaml"),
      `project: shop
environments:
  production:
    target: { kind: kubernetes, context: ctx, namespace: web }
services:
  api:
    image: ${registry.host}/shop/api:\${VERSION}
    port: 8080
    rollout: { keepWarm: 0s }
  cache:
    image: unreachable.invalid/cache:7
`,
    );
    const d1 = registry.tag("shop/api", "1.0", "api one");
    registry.tag("shop/api", "2.0", "api two");
    const r1 = await cli(["deploy", "production", "--version", "1.0", "--yes"]);
    expect(r1.code, r1.stderr + r1.stdout).toBe(0);
    expect(images()).toContainEqual({ name: "api-r1", image: `${registry.host}/shop/api:1.0@${d1}` });
    // The registry that cannot be asked: the tag is kept, and the deploy says why.
    expect(images()).toContainEqual({ name: "cache-r1", image: "unreachable.invalid/cache:7" });
    expect(r1.stderr + r1.stdout).toMatch(/could not resolve digest \(unreachable\.invalid: /);
    const r2 = await cli(["deploy", "production", "--version", "2.0", "--yes"]);
    expect(r2.code, r2.stderr + r2.stdout).toBe(0);
    registry.tag("shop/api", "1.0", "api one, rebuilt under the same tag");
    const rb = await cli(["rollback", "production", "1", "--yes"]);
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    const now = images().filter((i) => i.name?.startsWith("api-"));
    expect(now.map((i) => i.image)).toEqual([`${registry.host}/shop/api:1.0@${d1}`]);
    const h = await cli(["--json", "history", "production", "1"]);
    const facts = (JSON.parse(h.stdout) as { result: { revision: { facts: Record<string, unknown> } }[] })
      .result[0].revision.facts;
    expect(facts.artifactRecords).toMatchObject({
      api: { image: `${registry.host}/shop/api:1.0`, digest: d1 },
      cache: {
        image: "unreachable.invalid/cache:7",
        note: expect.stringMatching(/^could not resolve digest/),
      },
    });
  });
});
