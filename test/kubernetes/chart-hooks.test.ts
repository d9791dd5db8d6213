/**
 * Helm hooks of a `chart:` service run in phases, with the real CLI (bin/slipway.js --in-process),
 * the real helm v4 (`helm template`) and the Kubernetes API server DOUBLE (test/support/
 * kube-apiserver-double.ts), not a cluster. The double runs a Job's command with the host's sh
 * (`shell: true`), so the hooks append to a file here and their exit codes are real.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { chartEnv, inProcessCli } from "./fixtures.js";

const job = (name: string, hook: string, weight: number, policy: string | undefined, script: string) => `
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-${name}
  annotations:
    helm.sh/hook: ${hook}
    helm.sh/hook-weight: "${weight}"
${policy ? `    helm.sh/hook-delete-policy: ${policy}\n` : ""}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: ${name}
          image: registry.example.com/tools:{{ .Values.tag }}
          command: [sh, -c, ${JSON.stringify(script)}]
`;

const CHART: Record<string, string> = {
  "Chart.yaml": "apiVersion: v2\nname: tools\nversion: 0.1.0\n",
  "values.yaml": "tag: '1'\nlog: /dev/null\nmigrateExit: 0\nnotifyExit: 0\n",
  "templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: {{ .Release.Name }}-web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "registry.example.com/tools:{{ .Values.tag }}" }] }
`,
  "templates/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-config }
data: { TAG: {{ .Values.tag | quote }} }
`,
  "templates/hooks.yaml": [
    // Alphabetically "migrate" comes before "prep": the weights must win.
    job(
      "migrate",
      "pre-install,pre-upgrade",
      5,
      undefined,
      "echo migrate {{ .Values.tag }} >> {{ .Values.log }}; echo 'ERROR: duplicate column'; exit {{ .Values.migrateExit }}",
    ),
    job(
      "prep",
      "pre-install,pre-upgrade",
      -1,
      "hook-succeeded",
      "echo prep {{ .Values.tag }} >> {{ .Values.log }}",
    ),
    job(
      "notify",
      "post-install,post-upgrade",
      0,
      "hook-succeeded",
      "echo notify {{ .Values.tag }} >> {{ .Values.log }}; exit {{ .Values.notifyExit }}",
    ),
    job("undo", "pre-rollback", 0, undefined, "echo pre-rollback {{ .Values.tag }} >> {{ .Values.log }}"),
    job("smoke", "test", 0, undefined, "echo test >> {{ .Values.log }}"),
  ].join("---"),
};

let double: KubeApiServerDouble;
let dir: string;
let home: string;
let kubeconfig: string;
let log: string;

const cli = (args: string[]) => inProcessCli(home, dir, args, chartEnv(kubeconfig));

const spec = (tag: string, migrateExit = 0, notifyExit = 0) => `project: plat
environments:
  production:
    target: { kind: kubernetes, context: plat-ctx, cluster: plat-1, namespace: plat, resolveDigests: false }
services:
  tools:
    chart: ./charts/tools
    values: { tag: "${tag}", log: "${log}", migrateExit: ${migrateExit}, notifyExit: ${notifyExit} }
`;

/** The hooks that ran since the last call, in order (the lines they appended). */
function ran(): string[] {
  const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
  rmSync(log, { force: true });
  return lines;
}
const jobs = () =>
  double
    .objects("jobs", "plat")
    .map((j) => j.metadata?.name)
    .sort();
const webImage = () =>
  (
    double.objects("deployments", "plat").find((d) => d.metadata?.name === "tools-web") as unknown as
      { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined
  )?.spec.template.spec.containers[0]?.image;
const configTag = () =>
  (
    double.objects("configmaps", "plat").find((c) => c.metadata?.name === "tools-config") as {
      data?: { TAG?: string };
    }
  )?.data?.TAG;
/** When the double first saw a request whose path contains `part`. */
const firstAt = (method: string, part: string) =>
  double.requests.find((r) => r.method === method && r.path.includes(part))?.at ?? NaN;

beforeAll(async () => {
  double = await startKubeDouble();
  double.behave({ job: true }, { shell: true });
  double.behave({ image: "tools", job: false }, { readyAfterMs: 600 });
  dir = mkdtempSync(join(tmpdir(), "slipway-k8s-hooks-"));
  home = join(dir, ".home");
  log = join(dir, "hooks.log");
  for (const [f, text] of Object.entries(CHART)) {
    mkdirSync(join(dir, "charts", "tools", f, ".."), { recursive: true });
    writeFileSync(join(dir, "charts", "tools", f), text);
  }
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, double.kubeconfig({ context: "plat-ctx", cluster: "plat-1" }));
});
afterAll(() => double?.close());

describe("helm hooks of a chart service run in phases (real helm, API server double)", () => {
  it("render shows the hooks and says they run in phases", async () => {
    writeFileSync(join(dir, "slipway.yaml"), spec("1"));
    const r = await cli(["render", "production", "tools"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("helm.sh/hook: pre-install,pre-upgrade");
    expect(r.stderr).toMatch(/helm hooks .*job\/tools-migrate \(pre-install,pre-upgrade\)/);
  });

  it("install: pre-install hooks by weight before the objects, post-install after the rollout, no test hook", async () => {
    const r = await cli(["deploy", "production", "--version", "1", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(ran()).toEqual(["prep 1", "migrate 1", "notify 1"]);
    // The pre hooks were applied before the Deployment; the post hook only once its pod was ready.
    const deployment = firstAt("PATCH", "/deployments/tools-web");
    expect(firstAt("PATCH", "/jobs/tools-migrate")).toBeLessThan(deployment);
    expect(firstAt("PATCH", "/jobs/tools-notify")).toBeGreaterThanOrEqual(deployment + 600);
    // hook-succeeded: deleted; the default before-hook-creation: kept until the next run; test: never.
    expect(jobs()).toEqual(["tools-migrate"]);
    const migrate = double.objects("jobs", "plat")[0];
    expect(migrate?.metadata?.labels).toMatchObject({
      "slipway.dev/service": "tools",
      "slipway.dev/role": "chart-hook",
    });
  });

  it("upgrade: pre-upgrade and post-upgrade hooks; the old hook Job is replaced (before-hook-creation)", async () => {
    writeFileSync(join(dir, "slipway.yaml"), spec("2"));
    const r = await cli(["deploy", "production", "--version", "2", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(ran()).toEqual(["prep 2", "migrate 2", "notify 2"]);
    expect(jobs()).toEqual(["tools-migrate"]);
    expect(webImage()).toBe("registry.example.com/tools:2");
  });

  it("a failing pre-upgrade hook fails the deploy with the Job's reason and log tail; nothing else is applied", async () => {
    writeFileSync(join(dir, "slipway.yaml"), spec("3", 3));
    const r = await cli(["deploy", "production", "--version", "3", "--yes"]);
    expect(r.code).toBe(1);
    const out = r.stderr + r.stdout;
    expect(out).toContain("pre-upgrade hook job/tools-migrate failed: BackoffLimitExceeded");
    expect(out).toContain("exit code 3");
    expect(out).toContain("ERROR: duplicate column");
    expect(ran()).toEqual(["prep 3", "migrate 3"]);
    expect(webImage()).toBe("registry.example.com/tools:2");
    expect(configTag()).toBe("2");
  });

  it("rollback runs the target revision's pre-rollback hooks, not the upgrade hooks", async () => {
    const r = await cli(["rollback", "production", "1", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(ran()).toEqual(["pre-rollback 1"]);
    expect(webImage()).toBe("registry.example.com/tools:1");
    expect(configTag()).toBe("1");
  });

  it("a failing post-upgrade hook fails the gate; the rollback runs revision 1's pre-rollback hook", async () => {
    writeFileSync(join(dir, "slipway.yaml"), spec("4", 0, 4));
    const r = await cli(["deploy", "production", "--version", "4", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain("post-upgrade hook job/tools-notify failed");
    expect(ran()).toEqual(["prep 4", "migrate 4", "notify 4", "pre-rollback 1"]);
    expect(webImage()).toBe("registry.example.com/tools:1");
  });

  it("destroy deletes the hook objects left on the cluster", async () => {
    const r = await cli(["destroy", "production", "--yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(jobs()).toEqual([]);
  });
});
