/**
 * deploy → status → deploy v2 → rollback with the real CLI (bin/slipway.js --in-process) against
 * the Kubernetes API server DOUBLE (test/support/kube-apiserver-double.ts), not a cluster.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { inProcessCli } from "./fixtures.js";

const SPEC = `project: shop
environments:
  production:
    target: { kind: kubernetes, context: prod-ctx, cluster: prod-eu-1, namespace: shop }
services:
  api:
    image: registry.example.com/shop-api:\${VERSION}
    port: 3000
    replicas: 2
    env: { API_KEY: "\${API_KEY}", MODE: live }
    health: { http: /health, startTimeout: 60s }
    rollout: { keepWarm: 10m }
    domains: [shop.example.com]
    tls: { secretName: shop-tls }
`;

interface EnvStatusJson {
  unreachable?: string;
  services: { name: string; status: string; instances: { state: string }[] }[];
}

let double: KubeApiServerDouble;
let dir: string;
let home: string;
let kubeconfig: string;

const cli = (args: string[], env: Record<string, string> = {}) =>
  inProcessCli(home, dir, args, {
    ...process.env,
    NO_COLOR: "1",
    KUBECONFIG: kubeconfig,
    API_KEY: "k-123",
    ...env,
  });

const serviceRevision = () =>
  double.objects("services", "shop").find((s) => s.metadata?.name === "api")?.spec as {
    selector: Record<string, string>;
  };

beforeAll(async () => {
  double = await startKubeDouble();
  dir = mkdtempSync(join(tmpdir(), "slipway-k8s-e2e-"));
  home = join(dir, ".home");
  writeFileSync(join(dir, "slipway.yaml"), SPEC);
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, double.kubeconfig({ context: "prod-ctx", cluster: "prod-eu-1" }));
});
afterAll(() => double.close());

describe("Kubernetes target end to end (against the API server double)", () => {
  it("refuses (exit 4) when the kubeconfig's cluster is not the one the spec names, before sending anything", async () => {
    const wrong = join(dir, "wrong-kubeconfig");
    writeFileSync(wrong, double.kubeconfig({ context: "prod-ctx", cluster: "staging-1" }));
    const before = double.requests.length;
    const r = await cli(["deploy", "production", "--version", "0.9", "--yes"], { KUBECONFIG: wrong });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('"staging-1"');
    expect(r.stderr).toContain('"prod-eu-1"');
    expect(double.requests.length).toBe(before);
  });

  it("deploy creates the namespace, Secret, Deployment and Service; status shows the revision", async () => {
    const r = await cli(["deploy", "production", "--version", "1.0", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).toContain("shop");
    const deps = double.objects("deployments", "shop").map((d) => d.metadata?.name);
    expect(deps).toEqual(["api-r1"]);
    expect(serviceRevision().selector["slipway.dev/revision"]).toBe("1");
    const secret = double.objects("secrets", "shop")[0] as { data: Record<string, string> };
    expect(Buffer.from(secret.data.API_KEY ?? "", "base64").toString()).toBe("k-123");
    expect(double.store.managers("apps/deployments", "shop", "api-r1")).toEqual(["slipway"]);
    const st = await cli(["--json", "status", "production"]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain("1.0");
    // The URL users reach: the Ingress host, https because of tls.
    expect(st.stdout).toContain(`"url": "https://shop.example.com"`);
  });

  it("deploy v2 starts a second Deployment and switches the Service selector; v1 stays warm", async () => {
    const r = await cli(["deploy", "production", "--version", "2.0", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(serviceRevision().selector["slipway.dev/revision"]).toBe("2");
    const deps = double
      .objects("deployments", "shop")
      .map((d) => d.metadata?.name)
      .sort();
    expect(deps).toEqual(["api-r1", "api-r2"]);
    const image = (
      double.objects("deployments", "shop").find((d) => d.metadata?.name === "api-r2")?.spec as {
        template: { spec: { containers: { image: string }[] } };
      }
    ).template.spec.containers[0]?.image;
    expect(image).toBe("registry.example.com/shop-api:2.0");
  });

  it("rollback switches the Service back to the warm v1 pods", async () => {
    const r = await cli(["rollback", "production", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const sel = serviceRevision().selector["slipway.dev/revision"];
    const dep = double.objects("deployments", "shop").find((d) => d.metadata?.name === `api-r${sel}`);
    expect(dep?.metadata?.annotations?.["slipway.dev/version"]).toBe("1.0");
  });

  it("logs and history work on the cluster as on other targets", async () => {
    const logs = await cli(["logs", "production", "api", "--tail", "5"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("started registry.example.com/shop-api:1.0 (double)");
    const history = await cli(["--json", "history", "production"]);
    expect(history.code, history.stderr).toBe(0);
    for (const v of ["1.0", "2.0"]) expect(history.stdout).toContain(`"${v}"`);
  });

  it("a crash-looping release fails at once with CrashLoopBackOff and traffic stays on the old one", async () => {
    double.behave("shop-api:3.0", { crash: true });
    const before = serviceRevision().selector["slipway.dev/revision"];
    const t0 = Date.now();
    const r = await cli(["deploy", "production", "--version", "3.0", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain("CrashLoopBackOff");
    expect(Date.now() - t0).toBeLessThan(30_000); // at once, not after the 60 s startTimeout
    expect(serviceRevision().selector["slipway.dev/revision"]).toBe(before);
    // The failed revision's Deployment is gone; the serving one is untouched.
    const versions = double
      .objects("deployments", "shop")
      .map((d) => d.metadata?.annotations?.["slipway.dev/version"]);
    expect(versions).not.toContain("3.0");
    expect(versions).toContain("1.0");
  });

  it("an image that cannot be pulled fails at once with the reason and the kubelet's events", async () => {
    double.behave("shop-api:4.0", { imagePull: true });
    const r = await cli(["deploy", "production", "--version", "4.0", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain("ImagePullBackOff");
    expect(r.stderr + r.stdout).toContain('Failed: Failed to pull image "registry.example.com/shop-api:4.0"');
  });

  it("exec runs in a pod (exec subresource; the double runs it with the host's sh)", async () => {
    double.behave("shop-api:5.0", { shell: true });
    const d = await cli(["deploy", "production", "--version", "5.0", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    const r = await cli([
      "exec",
      "production",
      "api",
      "--",
      "sh",
      "-c",
      "echo mode=$MODE key=$API_KEY; exit 7",
    ]);
    // The secret reached the container (from the revision's Secret) and the output is redacted.
    expect(r.stdout).toContain("mode=live key=***");
    expect(r.code).toBe(7);
  });

  it("status with the cluster unreachable says so (states unknown, not exited); health exits 1", async () => {
    const dead = join(dir, "dead-kubeconfig");
    const port = new URL(double.url).port;
    writeFileSync(
      dead,
      double.kubeconfig({ context: "prod-ctx", cluster: "prod-eu-1" }).replace(`:${port}`, ":1"),
    );
    const st = await cli(["--json", "status", "production"], { KUBECONFIG: dead });
    expect(st.code, st.stderr).toBe(0);
    const s = (JSON.parse(st.stdout) as { result: EnvStatusJson }).result;
    expect(s.unreachable).toMatch(/^kubernetes target could not be inspected: .*ECONNREFUSED/);
    const api = s.services.find((x) => x.name === "api");
    expect(api?.status).toBe("unknown");
    expect(api?.instances.map((i) => i.state)).toEqual(api?.instances.map(() => "unknown"));
    const human = await cli(["status", "production"], { KUBECONFIG: dead });
    expect(human.stdout).toContain("kubernetes target could not be inspected");
    expect(human.stdout).not.toContain("exited");
    const health = await cli(["health", "production"], { KUBECONFIG: dead });
    expect(health.code, health.stdout).toBe(1);
    // exec must read the pods first: the driver's error (exit 1), not "an internal error".
    const exec = await cli(["exec", "production", "api", "--", "true"], { KUBECONFIG: dead });
    expect(exec.code, exec.stderr).toBe(1);
    expect(exec.stderr).toMatch(
      /kubernetes: cannot read namespace shop \(context prod-ctx\): .*ECONNREFUSED/,
    );
    expect(exec.stderr).not.toContain("internal error");
  });

  it("destroy keeps the namespace; destroy --delete-namespace deletes it", async () => {
    const r = await cli(["destroy", "production", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).toContain("shop");
    expect(double.objects("deployments", "shop")).toEqual([]);
    const gone = await cli(["destroy", "production", "--yes", "--delete-namespace"]);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain("deleted namespace shop");
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).not.toContain("shop");
  });
});
