/** The Kubernetes API server double itself, driven by the real @kubernetes/client-node and kubectl. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import {
  AppsV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  type V1Status,
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

  it("the real kubectl: rollout status finishes, rollout undo goes back to the previous ReplicaSet", async () => {
    const { kubectl } = kubeTools();
    const dir = mkdtempSync(join(tmpdir(), "kubectl-"));
    const env = { ...process.env, KUBECONFIG: kubeconfigFile };
    const k = async (...args: string[]) =>
      (await run(kubectl, args, { env, encoding: "utf8", timeout: 30_000 })).stdout;
    const manifest = (image: string) =>
      JSON.stringify({ ...deployment(image, 2), metadata: { name: "roll", namespace: "default" } });
    for (const v of ["1", "2"]) {
      writeFileSync(join(dir, `d${v}.json`), manifest(`roll:${v}`));
      await k("apply", "--validate=false", "-f", join(dir, `d${v}.json`));
      expect(await k("rollout", "status", "deployment/roll", "--timeout=20s")).toContain(
        "successfully rolled out",
      );
    }
    const sets = () =>
      double.objects("replicasets", "default").filter((r) => r.metadata?.name?.startsWith("roll-"));
    expect(
      sets()
        .map((r) => r.metadata?.annotations?.["deployment.kubernetes.io/revision"])
        .sort(),
    ).toEqual(["1", "2"]);
    expect(await k("rollout", "history", "deployment/roll")).toMatch(/1\s+<none>[\s\S]*2\s+<none>/);
    expect(await k("rollout", "undo", "deployment/roll")).toContain("rolled back");
    expect(await k("rollout", "status", "deployment/roll", "--timeout=20s")).toContain(
      "successfully rolled out",
    );
    // The first ReplicaSet is re-used as revision 3, no third one is made.
    expect(sets()).toHaveLength(2);
    const d = double.objects("deployments", "default").find((x) => x.metadata?.name === "roll");
    expect(d?.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("3");
    const status = d?.status as { conditions: { type: string; reason: string }[]; updatedReplicas: number };
    expect(status.conditions.map((c) => `${c.type}:${c.reason}`)).toEqual([
      "Available:MinimumReplicasAvailable",
      "Progressing:NewReplicaSetAvailable",
    ]);
    const pods = double.objects("pods", "default").filter((p) => p.metadata?.name?.startsWith("roll-"));
    expect(pods.map((p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image)).toEqual([
      "roll:1",
      "roll:1",
    ]);
  });

  it("pods behave by env; their failures come with the kubelet's reasons and events", async () => {
    double.behave({ env: { MODE: "oom" } }, { oom: true });
    double.behave("pull-me-not", { imagePull: true });
    double.behave("too-big", { unschedulable: true });
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const apply = (name: string, image: string, env: { name: string; value: string }[] = []) => {
      const d = deployment(image, 1);
      d.metadata.name = name;
      d.spec.selector.matchLabels.app = name;
      d.spec.template.metadata.labels.app = name;
      Object.assign(d.spec.template.spec.containers[0] as object, { env });
      return objects.patch(d, undefined, undefined, "slipway", true, PatchStrategy.ServerSideApply);
    };
    await apply("oom", "plain:1", [{ name: "MODE", value: "oom" }]);
    await apply("pull", "pull-me-not:1");
    await apply("big", "too-big:1");
    const core = kc.makeApiClient(CoreV1Api);
    const podOf = (app: string) =>
      until(async () =>
        (await core.listNamespacedPod({ namespace: "default", labelSelector: `app=${app}` })).items.find(
          (p) => p.status?.containerStatuses || p.status?.conditions?.length,
        ),
      );
    const oom = await until(async () => {
      const p = await podOf("oom");
      return p.status?.containerStatuses?.[0]?.lastState?.terminated ? p : undefined;
    });
    expect(oom.status?.containerStatuses?.[0]?.lastState?.terminated?.reason).toBe("OOMKilled");
    expect(oom.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CrashLoopBackOff");
    const pull = await podOf("pull");
    expect(pull.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ImagePullBackOff");
    const big = await podOf("big");
    expect(big.status?.conditions?.[0]).toMatchObject({ type: "PodScheduled", reason: "Unschedulable" });
    const events = async (pod: string) =>
      (
        await core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${pod}` })
      ).items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
    expect(await events(big.metadata?.name as string)).toEqual([
      expect.stringMatching(/^Warning FailedScheduling: 0\/3 nodes/),
    ]);
    expect(await events(pull.metadata?.name as string)).toContain("Warning Failed: Error: ImagePullBackOff");
    expect(
      (
        await until(async () => {
          const e = await events(oom.metadata?.name as string);
          return e.some((x) => x.includes("BackOff")) ? e : undefined;
        })
      ).join("\n"),
    ).toMatch(/Warning BackOff: Back-off restarting failed container/);
  });

  it("watch from a resourceVersion replays what changed since; a too old one is 410 Expired", async () => {
    const rv = double.store.resourceVersion;
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "watched" } } });
    const res = await fetch(
      `${double.url}/api/v1/namespaces?watch=true&resourceVersion=${rv}&timeoutSeconds=1`,
    );
    const events = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED watched"]);
    double.store.history.splice(0, double.store.history.length - 1);
    const old = await fetch(`${double.url}/api/v1/namespaces?watch=true&resourceVersion=1`);
    expect(JSON.parse(await old.text())).toMatchObject({
      type: "ERROR",
      object: { code: 410, reason: "Expired" },
    });
  });

  it("exec runs over WebSocket (host sh with the container's env, for pods given `shell`); logs follow", async () => {
    double.behave("shelly", { shell: true, logs: ["hello from shelly"] });
    const d = deployment("shelly:1", 1);
    d.metadata.name = "shelly";
    d.spec.selector.matchLabels.app = "shelly";
    d.spec.template.metadata.labels.app = "shelly";
    Object.assign(d.spec.template.spec.containers[0] as object, { env: [{ name: "WHO", value: "pod" }] });
    await KubernetesObjectApi.makeApiClient(kc).patch(
      d,
      undefined,
      undefined,
      "m",
      true,
      PatchStrategy.ServerSideApply,
    );
    const core = kc.makeApiClient(CoreV1Api);
    const pod = await until(async () =>
      (await core.listNamespacedPod({ namespace: "default", labelSelector: "app=shelly" })).items.find(
        (p) => p.status?.phase === "Running",
      ),
    );
    const name = pod.metadata?.name as string;
    let out = "";
    const stdout = new PassThrough().on("data", (b: Buffer) => (out += b.toString()));
    const status = await new Promise<V1Status>(
      (resolve) =>
        void new Exec(kc).exec(
          "default",
          name,
          "web",
          ["/bin/sh", "-c", "echo hi-$WHO; exit 3"],
          stdout,
          null,
          null,
          false,
          resolve,
        ),
    );
    expect(out).toBe("hi-pod\n");
    expect(status).toMatchObject({
      status: "Failure",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
    let followed = "";
    const sink = new PassThrough().on("data", (b: Buffer) => (followed += b.toString()));
    const req = await new Log(kc).log("default", name, "web", sink, { follow: true });
    await until(async () => (followed.includes("hello from shelly") ? true : undefined));
    double.pods.appendLog("default", name, "a later line");
    await until(async () => (followed.includes("a later line") ? true : undefined));
    req.abort();
  });
});
