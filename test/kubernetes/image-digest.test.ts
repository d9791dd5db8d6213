/**
 * Image tags resolved to digests in the recorded revision, against a registry DOUBLE
 * (test/support/registry-double.ts: the OCI distribution `HEAD /v2/<name>/manifests/<tag>`) and the
 * Kubernetes API server DOUBLE, with the real CLI. No real registry is reachable from here.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseImageRef, resolveDigest } from "../../src/drivers/kubernetes/digest.js";
import { dockerConfigCredentials } from "../../src/drivers/kubernetes/registry-auth.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { RegistryDouble } from "../support/registry-double.js";
import { inProcessCli } from "./fixtures.js";

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

const cli = (args: string[], env: Record<string, string> = {}) =>
  inProcessCli(join(dir, ".home"), dir, args, {
    ...process.env,
    NO_COLOR: "1",
    KUBECONFIG: join(dir, "kubeconfig"),
    ...env,
  });

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

const b64 = (s: string) => Buffer.from(s).toString("base64");
/** A DOCKER_CONFIG directory as `docker login` leaves it. */
function dockerConfig(auths: Record<string, { auth: string }>): string {
  const d = mkdtempSync(join(tmpdir(), "slipway-docker-config-"));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "config.json"), JSON.stringify({ auths }));
  return d;
}

describe("private registries (registry double demanding Basic or Bearer logins)", () => {
  it("resolves digests with credentials, Basic or through the token endpoint, and says when they are refused", async () => {
    registry.logins.set("deploy", "pa:ss");
    registry.basicRepos.add("team/basic");
    registry.loginRepos.add("team/login");
    const b = registry.tag("team/basic", "1", "basic one");
    const l = registry.tag("team/login", "1", "login one");
    const good = () => ({ username: "deploy", password: "pa:ss" });
    const bad = () => ({ username: "deploy", password: "wrong" });
    expect(await resolveDigest(`${registry.host}/team/basic:1`, 5000, good)).toEqual({ digest: b });
    expect(await resolveDigest(`${registry.host}/team/login:1`, 5000, good)).toEqual({ digest: l });
    for (const repo of ["basic", "login"]) {
      expect((await resolveDigest(`${registry.host}/team/${repo}:1`, 5000, bad))?.note).toMatch(
        /refused the credentials/,
      );
      expect((await resolveDigest(`${registry.host}/team/${repo}:1`))?.note).toMatch(/asks for credentials/);
    }
  });

  it("reads docker login's auths from $DOCKER_CONFIG (base64 auth; Docker Hub under its v1 key)", () => {
    const d = dockerConfig({
      [registry.host]: { auth: b64("deploy:pa:ss") },
      "https://index.docker.io/v1/": { auth: b64("hubuser:hubtoken") },
    });
    expect(dockerConfigCredentials(registry.host, { DOCKER_CONFIG: d })).toEqual({
      username: "deploy",
      password: "pa:ss",
    });
    expect(dockerConfigCredentials("registry-1.docker.io", { DOCKER_CONFIG: d })).toEqual({
      username: "hubuser",
      password: "hubtoken",
    });
    expect(dockerConfigCredentials("ghcr.io", { DOCKER_CONFIG: d })).toBeUndefined();
  });

  it("deploy: digests with the target's registry login, a dockerconfigjson pull Secret, imagePullSecrets on pods; never the password", async () => {
    registry.tag("team/login", "3.0", "login three");
    const d = registry.tag("team/basic", "3.0", "basic three");
    const password = "pa:ss";
    const yaml = (registryField: string) => `project: priv
environments:
  production:
    target:
      kind: kubernetes
      context: ctx
      namespace: priv
      registry: ${registryField}
      imagePullSecrets: [team-pull]
  staging:
    target: { kind: kubernetes, context: ctx, namespace: priv-staging, registry: { server: "${registry.host}" } }
services:
  api:
    image: ${registry.host}/team/login:\${VERSION}
    imagePullSecrets: [api-pull]
  worker:
    image: ${registry.host}/team/basic:\${VERSION}
`;
    writeFileSync(
      join(dir, "slipway.yaml"),
      yaml(`{ server: "${registry.host}", username: deploy, password: "\${REGISTRY_PASSWORD}" }`),
    );
    const env = { REGISTRY_PASSWORD: password, DOCKER_CONFIG: dockerConfig({}) };
    const r = await cli(["deploy", "production", "--version", "3.0", "--yes"], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    type Pod = {
      template: { spec: { containers: { image: string }[]; imagePullSecrets?: { name: string }[] } };
    };
    const deps = double.objects("deployments", "priv").map((x) => x.spec as Pod);
    const worker = deps.find((x) => x.template.spec.containers[0]?.image.includes("team/basic"));
    expect(worker?.template.spec.containers[0]?.image).toBe(`${registry.host}/team/basic:3.0@${d}`);
    expect(worker?.template.spec.imagePullSecrets).toEqual([
      { name: "priv-registry" },
      { name: "team-pull" },
    ]);
    const api = deps.find((x) => x.template.spec.containers[0]?.image.includes("team/login"));
    expect(api?.template.spec.containers[0]?.image).toMatch(/team\/login:3\.0@sha256:/);
    expect(api?.template.spec.imagePullSecrets?.map((s) => s.name)).toEqual([
      "priv-registry",
      "team-pull",
      "api-pull",
    ]);
    const secret = double.objects("secrets", "priv").find((s) => s.metadata?.name === "priv-registry") as
      { type?: string; data?: Record<string, string> } | undefined;
    expect(secret?.type).toBe("kubernetes.io/dockerconfigjson");
    const cfg = JSON.parse(Buffer.from(secret?.data?.[".dockerconfigjson"] ?? "", "base64").toString()) as {
      auths: Record<string, { auth: string }>;
    };
    expect(cfg.auths[registry.host]?.auth).toBe(b64(`deploy:${password}`));
    // Never printed, never in the revision.
    const h = await cli(["--json", "history", "production", "1"], env);
    expect(h.code, h.stderr).toBe(0);
    for (const out of [r.stdout, r.stderr, h.stdout]) expect(out).not.toContain(password);
    // render: the Secret with the spec's reference, no value.
    const rd = await cli(["render", "production", "api"], env);
    expect(rd.code, rd.stderr).toBe(0);
    expect(rd.stdout).toContain("kubernetes.io/dockerconfigjson");
    expect(rd.stdout).toContain("${REGISTRY_PASSWORD}");
    expect(rd.stdout).not.toContain(password);
    expect(rd.stdout).toMatch(/imagePullSecrets:\s*\n\s*- name: priv-registry/);
  });

  it("staging: registry without a login in the spec takes docker login's from $DOCKER_CONFIG", async () => {
    const env = { DOCKER_CONFIG: dockerConfig({ [registry.host]: { auth: b64("deploy:pa:ss") } }) };
    const r = await cli(["deploy", "staging", "--version", "3.0", "--yes"], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const images = double
      .objects("deployments", "priv-staging")
      .map(
        (x) =>
          (x.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]
            ?.image,
      );
    expect(images.every((i) => i?.includes("@sha256:"))).toBe(true);
    expect(double.objects("secrets", "priv-staging").map((s) => s.metadata?.name)).toContain("priv-registry");
    const none = await cli(["deploy", "staging", "--version", "3.0", "--yes"], {
      DOCKER_CONFIG: dockerConfig({}),
    });
    expect(none.code).toBe(1);
    expect(none.stderr + none.stdout).toContain("no credentials");
  });
});
