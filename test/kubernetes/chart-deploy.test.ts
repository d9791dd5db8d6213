/**
 * Deploying a `chart:` service the Argo CD way, with the real CLI (bin/slipway.js --in-process), the
 * real helm v4 (`helm template`) and the Kubernetes API server DOUBLE (test/support/
 * kube-apiserver-double.ts), not a cluster: apply under Slipway's field manager, the chart's own
 * rolling update as the health gate, an ImagePullBackOff upgrade rolled back at once, pruning,
 * a manual rollback to a revision, history, destroy.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { chartEnv, inProcessCli } from "./fixtures.js";

const spec = (values: string) => `project: plat
environments:
  production:
    target: { kind: kubernetes, context: plat-ctx, cluster: plat-1, namespace: plat }
services:
  tools:
    chart: ./charts/tools
    valuesFiles: [values-prod.yaml]
    values: ${values}
`;

const CHART: Record<string, string> = {
  "Chart.yaml": "apiVersion: v2\nname: tools\nversion: 0.1.0\n",
  "values.yaml": "replicaCount: 1\nimage: nginx\nextra: false\npassword: changeme\n",
  "templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: { app.kubernetes.io/name: web }
spec:
  replicas: {{ .Values.replicaCount }}
  selector: { matchLabels: { app: {{ .Release.Name }}-web } }
  template:
    metadata: { labels: { app: {{ .Release.Name }}-web } }
    spec:
      containers:
        - name: web
          image: {{ .Values.image | quote }}
          envFrom: [{ configMapRef: { name: {{ .Release.Name }}-config } }]
`,
  "templates/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-config }
data: { GREETING: {{ .Values.greeting | default "hello" | quote }} }
`,
  "templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata: { name: {{ .Release.Name }}-db }
stringData: { password: {{ .Values.password | quote }} }
`,
  "templates/extra.yaml": `{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-extra }
data: { on: "yes" }
{{- end }}
`,
};

let double: KubeApiServerDouble;
let dir: string;
let home: string;
let kubeconfig: string;

const cli = (args: string[]) => inProcessCli(home, dir, args, chartEnv(kubeconfig));

type Dep = { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } };
const web = () => double.objects("deployments", "plat").find((d) => d.metadata?.name === "tools-web");
const imageNow = () => (web() as unknown as Dep | undefined)?.spec.template.spec.containers[0]?.image;
const configMaps = () =>
  double
    .objects("configmaps", "plat")
    .map((c) => c.metadata?.name)
    .sort();

beforeAll(async () => {
  double = await startKubeDouble();
  dir = mkdtempSync(join(tmpdir(), "slipway-k8s-chart-"));
  home = join(dir, ".home");
  for (const [f, text] of Object.entries(CHART)) {
    mkdirSync(join(dir, "charts", "tools", f, ".."), { recursive: true });
    writeFileSync(join(dir, "charts", "tools", f), text);
  }
  writeFileSync(join(dir, "values-prod.yaml"), "password: s3cret-from-values\ngreeting: hi\n");
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, double.kubeconfig({ context: "plat-ctx", cluster: "plat-1" }));
});
afterAll(() => double?.close());

describe("chart services on Kubernetes (real helm, API server double)", () => {
  it("deploy renders the chart, applies it under the field manager slipway and waits for its rollout", async () => {
    writeFileSync(
      join(dir, "slipway.yaml"),
      spec(`{ image: "registry.example.com/tools:\${VERSION}", replicaCount: 2, extra: true }`),
    );
    const r = await cli(["deploy", "production", "--version", "1.0", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const d = web();
    expect(imageNow()).toBe("registry.example.com/tools:1.0");
    expect((d as unknown as Dep).spec.replicas).toBe(2);
    expect(d?.metadata?.labels).toMatchObject({
      "slipway.dev/project": "plat",
      "slipway.dev/environment": "production",
      "slipway.dev/service": "tools",
      "slipway.dev/revision": "1",
      "app.kubernetes.io/name": "web", // the chart's own labels are kept
    });
    expect(double.store.managers("apps/deployments", "plat", "tools-web")).toEqual(["slipway"]);
    // Rolled out: every replica updated and ready when deploy returned.
    expect((d?.status as { readyReplicas?: number }).readyReplicas).toBe(2);
    expect(configMaps()).toEqual(expect.arrayContaining(["tools-config", "tools-extra", "tools-chart"]));
    // No Helm release: no `sh.helm.release.v1.*` Secret.
    const secrets = double.objects("secrets", "plat").map((s) => s.metadata?.name);
    expect(secrets.some((s) => String(s).startsWith("sh.helm.release"))).toBe(false);
    expect(secrets).toEqual(expect.arrayContaining(["tools-db", "tools-r1-chart"]));
  });

  it("the revision records the rendered objects, the chart's Secret as a reference only", async () => {
    const st = await cli(["--json", "status", "production"]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('"tools"');
    const facts = await revisionFacts(1);
    const rec = (facts.artifactRecords as Record<string, { objects: Record<string, unknown>[] }>).tools;
    const kinds = rec.objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(["ConfigMap", "ConfigMap", "Deployment", "Secret"]);
    const secret = rec.objects.find((o) => o.kind === "Secret");
    expect(secret).toMatchObject({ name: "tools-db", keys: ["password"] });
    expect(JSON.stringify(facts)).not.toContain("s3cret-from-values");
  });

  it("an upgrade with changed values rolls the chart's Deployment and prunes what left the chart", async () => {
    double.store.put("/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "not-ours", namespace: "plat" },
    });
    writeFileSync(
      join(dir, "slipway.yaml"),
      spec(`{ image: "registry.example.com/tools:\${VERSION}", replicaCount: 3, extra: false }`),
    );
    const r = await cli(["deploy", "production", "--version", "2.0", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(imageNow()).toBe("registry.example.com/tools:2.0");
    expect((web() as unknown as Dep).spec.replicas).toBe(3);
    expect(web()?.metadata?.labels?.["slipway.dev/revision"]).toBe("2");
    expect(configMaps()).not.toContain("tools-extra");
    expect(configMaps()).toContain("not-ours");
  });

  it("a failing upgrade (ImagePullBackOff) fails at once and is rolled back to the previous objects", async () => {
    double.behave("tools:3.0", { imagePull: true });
    const t0 = Date.now();
    const r = await cli(["deploy", "production", "--version", "3.0", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain("ImagePullBackOff");
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(imageNow()).toBe("registry.example.com/tools:2.0");
    expect(web()?.metadata?.labels?.["slipway.dev/revision"]).toBe("2");
    const ready = (web()?.status as { readyReplicas?: number; updatedReplicas?: number }) ?? {};
    expect(ready.readyReplicas).toBe(3);
  });

  it("rollback to revision 1 re-applies its objects (the pruned ConfigMap returns) and waits again", async () => {
    const r = await cli(["rollback", "production", "1", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(imageNow()).toBe("registry.example.com/tools:1.0");
    expect((web() as unknown as Dep).spec.replicas).toBe(2);
    expect(configMaps()).toContain("tools-extra");
    const h = await cli(["--json", "history", "production"]);
    expect(h.stdout).toMatch(/"rollbackOf": 1/);
    const st = await cli(["--json", "status", "production"]);
    expect(st.stdout).toContain('"1.0"');
  });

  it("destroy removes the chart's objects and snapshots, keeps the namespace and what is not Slipway's", async () => {
    const r = await cli(["destroy", "production", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(double.objects("deployments", "plat")).toEqual([]);
    expect(configMaps()).toEqual(["not-ours"]);
    expect(double.objects("secrets", "plat")).toEqual([]);
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).toContain("plat");
  });
});

/** A revision's facts as `slipway --json history ENV N` prints them. */
async function revisionFacts(n: number): Promise<Record<string, unknown>> {
  const h = await cli(["--json", "history", "production", String(n)]);
  expect(h.code, h.stderr).toBe(0);
  const {
    result: [entry],
  } = JSON.parse(h.stdout) as { result: { revision: { facts: Record<string, unknown> } }[] };
  return entry?.revision.facts ?? {};
}
