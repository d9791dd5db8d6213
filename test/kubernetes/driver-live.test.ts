/**
 * What the health gate and `provider: driver` analysis read of a pod through the Kubernetes driver
 * (live(), stats()), on the API server DOUBLE: restarts from container statuses, the kubelet's
 * reason and Warning events at once, CPU and memory from the metrics API when the cluster has one.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { InstanceRequest } from "../../src/drivers/driver.js";
import { KubernetesDriver } from "../../src/drivers/kubernetes/kubernetes-driver.js";
import { podReadinessGate } from "../../src/drivers/kubernetes/health.js";
import { resolvedService } from "../../src/spec/defaults.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { recordingLogger } from "../support/logger.js";

const doubles: KubeApiServerDouble[] = [];
afterAll(async () => {
  for (const d of doubles) await d.close();
});

async function setup(metricsApi: boolean) {
  const double = await startKubeDouble({ metricsApi });
  doubles.push(double);
  const file = join(mkdtempSync(join(tmpdir(), "k8s-live-")), "kubeconfig");
  writeFileSync(file, double.kubeconfig());
  const driver = new KubernetesDriver({
    target: { kind: "kubernetes", namespace: "live", kubeconfig: file },
    logger: recordingLogger(),
  });
  return { double, driver };
}
const req = (image: string, revision = 1): InstanceRequest => {
  const service = resolvedService("api", {
    image,
    port: 3000,
    health: {
      http: "/h",
      interval: 1000,
      timeout: 1000,
      startPeriod: 0,
      startTimeout: 30_000,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    },
  });
  return {
    project: "p",
    env: "e",
    service,
    revision,
    version: `v${revision}`,
    slot: "candidate",
    index: 0,
    env_vars: {},
    artifact: { service: "api", revision, ref: image },
  };
};

describe("Kubernetes driver live state (API server double)", () => {
  it("a crash loop: restarts grow (provider: driver, query restarts) and the gate fails at once with events", async () => {
    const { double, driver } = await setup(false);
    double.behave("crashy", { crash: true });
    const inst = await driver.start(req("crashy:1"));
    const gate = podReadinessGate((i) => driver.live(i), 50);
    const t0 = Date.now();
    const out = await gate(req("crashy:1").service, inst);
    expect(out.healthy).toBe(false);
    expect(out.message).toMatch(/CrashLoopBackOff: back-off restarting failed container api/);
    expect(out.message).toMatch(/events: BackOff: Back-off restarting failed container api/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 700));
    const live = await driver.live(inst);
    expect(live?.restarts).toBeGreaterThanOrEqual(2);
    expect(live?.state).toBe("crashloop");
    // Without a metrics API, stats are unknown (not zero).
    expect(await driver.stats(inst)).toBeUndefined();
  });

  it("unschedulable and OOMKilled pods are reported with the scheduler's and kubelet's words", async () => {
    const { double, driver } = await setup(false);
    double.behave("huge", { unschedulable: true });
    double.behave("hungry", { oom: true });
    const gate = podReadinessGate((i) => driver.live(i), 50);
    const big = await driver.start(req("huge:1", 1));
    expect((await gate(req("huge:1").service, big)).message).toMatch(
      /Unschedulable: 0\/3 nodes are available: 3 Insufficient cpu\.; events: FailedScheduling/,
    );
    const oom = await driver.start(req("hungry:2", 2));
    expect((await gate(req("hungry:2").service, oom)).message).toMatch(
      /OOMKilled: container api ran out of memory \(exit 137\)/,
    );
  });

  it("stats come from the metrics API when the cluster has one, as a ratio of the CPU limit", async () => {
    const { double, driver } = await setup(true);
    double.behave("busy", { usage: { cpu: 0.25, memory: 64 * 1024 * 1024 } });
    const r = req("busy:1");
    r.service = { ...r.service, resources: { cpus: 0.5, memory: 128 * 1024 * 1024 } } as typeof r.service;
    const inst = await driver.start(r);
    await podReadinessGate((i) => driver.live(i), 50)(r.service, inst);
    const s = await driver.stats(inst);
    expect(s?.cpu).toBeCloseTo(0.5, 2);
    expect(s?.memory).toBe(64 * 1024 * 1024);
    expect(s?.memoryLimit).toBe(128 * 1024 * 1024);
  });

  it("stopping a stateful instance scales its StatefulSet to 0 with a merge patch (the recreate of an upgrade)", async () => {
    const { double, driver } = await setup(false);
    const r = req("redis:7", 1);
    r.service = { ...r.service, stateful: true } as typeof r.service;
    const inst = await driver.start(r);
    await driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
    const set = double.objects("statefulsets", "live").find((o) => o.metadata?.name === "api");
    expect((set?.spec as { replicas?: number }).replicas).toBe(0);
    const scale = double.requests.filter((q) => q.path.endsWith("/statefulsets/api/scale"));
    expect(scale.map((q) => q.contentType?.split(";")[0])).toEqual(["application/merge-patch+json"]);
  });
});
