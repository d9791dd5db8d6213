/** The Kubernetes API server double itself, driven by the real @kubernetes/client-node and kubectl. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { kubeTools } from "../support/kube-tools.js";

const run = promisify(execFile);
let double: KubeApiServerDouble;
let kc: KubeConfig;
let kubeconfigFile: string;
beforeAll(async () => {
  double = await startKubeDouble();
  kc = new KubeConfig();
  kc.loadFromString(double.kubeconfig());
  kubeconfigFile = join(mkdtempSync(join(tmpdir(), "kube-double-")), "config");
  writeFileSync(kubeconfigFile, double.kubeconfig());
});
afterAll(() => double.close());

const deployment = (image: string, replicas = 2) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default" },
  spec: {
    replicas,
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image }] } },
  },
});

async function until<T>(fn: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("Kubernetes API server double (a test double, not a cluster)", () => {
  it("server-side apply creates, then reports readiness as pods become ready", async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    await objects.patch(
      deployment("web:1"),
      undefined,
      undefined,
      "slipway",
      true,
      PatchStrategy.ServerSideApply,
    );
    const apps = kc.makeApiClient(AppsV1Api);
    const ready = await until(async () => {
      const d = await apps.readNamespacedDeployment({ name: "web", namespace: "default" });
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    expect(ready.metadata?.generation).toBe(1);
    const pods = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: "default", labelSelector: "app=web" });
    expect(pods.items).toHaveLength(2);
  });

  it("an apply by another manager that changes an owned field conflicts (409) unless forced", async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const other = deployment("web:other");
    await expect(
      objects.patch(other, undefined, undefined, "someone-else", false, PatchStrategy.ServerSideApply),
    ).rejects.toMatchObject({ code: 409 });
    await objects.patch(other, undefined, undefined, "someone-else", true, PatchStrategy.ServerSideApply);
    const d = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "web", namespace: "default" });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe("web:other");
    expect(d.metadata?.generation).toBe(2);
  });

  it("crash-looping containers are reported as CrashLoopBackOff with restarts", async () => {
    double.behave("crashy", { crash: true });
    const objects = KubernetesObjectApi.makeApiClient(kc);
    await objects.patch(
      { ...deployment("crashy:1", 1), metadata: { name: "crash", namespace: "default" } },
      undefined,
      undefined,
      "slipway",
      true,
      PatchStrategy.ServerSideApply,
    );
    const core = kc.makeApiClient(CoreV1Api);
    const st = await until(async () => {
      const pods = await core.listNamespacedPod({ namespace: "default" });
      const p = pods.items.find((x) => x.metadata?.name?.startsWith("crash-"));
      const c = p?.status?.containerStatuses?.[0];
      return c && c.restartCount > 0 ? c : undefined;
    });
    expect(st.state?.waiting?.reason).toBe("CrashLoopBackOff");
    expect(st.ready).toBe(false);
  });

  it("the real kubectl applies and reads objects through it", async () => {
    const { kubectl } = kubeTools();
    const dir = mkdtempSync(join(tmpdir(), "kubectl-"));
    writeFileSync(join(dir, "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: { name: kubectl-ns }\n");
    const env = { ...process.env, KUBECONFIG: kubeconfigFile };
    // Asynchronously: the double answers from this very process.
    await run(kubectl, ["apply", "--server-side", "--validate=false", "-f", join(dir, "ns.yaml")], {
      env,
      encoding: "utf8",
    });
    const { stdout: out } = await run(kubectl, ["get", "namespaces", "-o", "name"], {
      env,
      encoding: "utf8",
    });
    expect(out).toContain("namespace/kubectl-ns");
    expect(double.store.managers("/namespaces", undefined, "kubectl-ns")).toEqual(["kubectl"]);
  });
});
