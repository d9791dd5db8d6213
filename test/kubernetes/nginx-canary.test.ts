/**
 * `rollout.trafficRouting: nginx`: exact canary weights by the NGINX ingress controller's canary
 * annotations, set by the driver's router on the API server DOUBLE (no Ingress controller runs
 * here: the test checks the objects the controller would read).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubernetesDriver } from "../../src/drivers/kubernetes/kubernetes-driver.js";
import type { InstanceRequest } from "../../src/drivers/driver.js";
import type { Route } from "../../src/proxy/contract.js";
import { resolvedService } from "../../src/spec/defaults.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { recordingLogger } from "../support/logger.js";

let double: KubeApiServerDouble;
let driver: KubernetesDriver;
beforeAll(async () => {
  double = await startKubeDouble();
  const file = join(mkdtempSync(join(tmpdir(), "k8s-nginx-")), "kubeconfig");
  writeFileSync(file, double.kubeconfig());
  driver = new KubernetesDriver({
    target: { kind: "kubernetes", namespace: "shop", kubeconfig: file },
    logger: recordingLogger(),
  });
});
afterAll(() => double.close());

const svc = resolvedService("api", {
  image: "shop/api:1",
  port: 3000,
  domains: ["shop.example.com"],
  rollout: {
    strategy: "canary",
    steps: [{ weight: 25, pause: 0 }],
    sticky: false,
    drainTimeout: 1000,
    responseTimeout: 60_000,
    keepWarm: 0,
    trafficRouting: "nginx",
  },
});
const req = (revision: number): InstanceRequest => ({
  project: "shop",
  env: "prod",
  service: svc,
  revision,
  version: `v${revision}`,
  slot: revision === 1 ? "stable" : "candidate",
  index: 0,
  env_vars: {},
  artifact: { service: "api", revision, ref: `shop/api:${revision}` },
});
const route = (weight: number, candidate = true): Route => ({
  key: "shop/prod/api",
  listen: { host: "0.0.0.0", port: 3000 },
  targets: [
    { id: "api-r1-0", slot: "stable", url: "" },
    ...(candidate ? [{ id: "api-r2-0", slot: "candidate" as const, url: "" }] : []),
  ],
  candidateWeight: weight,
  sticky: false,
  drainTimeoutMs: 1000,
  responseTimeoutMs: 60_000,
});
const byName = (plural: string, name: string) =>
  double.objects(plural, "shop").find((o) => o.metadata?.name === name) as
    { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> } | undefined;

describe("canary by NGINX ingress annotations (trafficRouting: nginx), on the API server double", () => {
  it("a weight keeps the Service on stable and sends exactly that share through the canary Ingress", async () => {
    await driver.start(req(1));
    await driver.start(req(2));
    expect(byName("ingresses", "api")?.metadata.annotations?.["slipway.dev/traffic-routing"]).toBe("nginx");
    await driver.router().setRoute(route(25));
    expect((byName("services", "api")?.spec.selector as Record<string, string>)["slipway.dev/revision"]).toBe(
      "1",
    );
    expect(
      (byName("services", "api-canary")?.spec.selector as Record<string, string>)["slipway.dev/revision"],
    ).toBe("2");
    const canary = byName("ingresses", "api-canary");
    expect(canary?.metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": "25",
    });
    expect(JSON.stringify(canary?.spec)).toContain('"name":"api-canary"');
    await driver.router().setRoute(route(60));
    expect(
      byName("ingresses", "api-canary")?.metadata.annotations?.["nginx.ingress.kubernetes.io/canary-weight"],
    ).toBe("60");
  });

  it("promotion (no candidate) removes the canary Service and Ingress", async () => {
    await driver
      .router()
      .setRoute({ ...route(0, false), targets: [{ id: "api-r2-0", slot: "stable", url: "" }] });
    expect((byName("services", "api")?.spec.selector as Record<string, string>)["slipway.dev/revision"]).toBe(
      "2",
    );
    expect(byName("ingresses", "api-canary")).toBeUndefined();
    expect(byName("services", "api-canary")).toBeUndefined();
  });
});
