/**
 * The driver conformance suite (src/drivers/driver.case.ts) against the Kubernetes driver.
 *
 * By default it runs against the API server DOUBLE (test/support/kube-apiserver-double.ts), which
 * runs no containers: the pod's start line comes from the double's log store, GET / at a pod is the
 * double answering for a Ready pod through the pod proxy, and `exec` / one-off Jobs run their
 * command with the host's /bin/sh and the container's env (the "shell" behaviour).
 *
 * With SLIPWAY_TEST_KUBECONFIG=/path/to/kubeconfig it runs unchanged against that cluster (current
 * context, a throw-away namespace `slipway-conformance-<random>`, deleted at the end), with the image
 * $SLIPWAY_TEST_IMAGE (default busybox:1.36: `sh`, `httpd`); stats need metrics-server there:
 *
 *   SLIPWAY_TEST_KUBECONFIG=~/.kube/config npx vitest run test/kubernetes/driver-conformance.test.ts
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { runDriverConformance } from "../../src/drivers/driver.case.js";
import type { Instance } from "../../src/drivers/driver.js";
import { KubernetesDriver } from "../../src/drivers/kubernetes/kubernetes-driver.js";
import { resolvedService } from "../../src/spec/defaults.js";
import type { KubernetesTarget } from "../../src/spec/schema-kubernetes.js";
import { startKubeDouble } from "../support/kube-apiserver-double.js";
import { recordingLogger } from "../support/logger.js";

const REAL = process.env.SLIPWAY_TEST_KUBECONFIG;
const IMAGE = process.env.SLIPWAY_TEST_IMAGE ?? "busybox:1.36";
const PORT = 8080;

runDriverConformance(
  REAL ? "kubernetes (cluster from SLIPWAY_TEST_KUBECONFIG)" : "kubernetes (API server double)",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-k8s-conf-"));
    const double = REAL ? undefined : await startKubeDouble({ metricsApi: true });
    double?.behave(IMAGE, { shell: true, logs: [`listening on ${PORT}`] });
    const kubeconfig = REAL ?? join(dir, "kubeconfig");
    if (double) writeFileSync(kubeconfig, double.kubeconfig());
    const namespace = `slipway-conformance-${randomBytes(3).toString("hex")}`;
    // No registry lookups from the suite (docker.io is not reachable here, and a real cluster's run
    // must not depend on one): digests have their own test against a registry double.
    const target: KubernetesTarget = { kind: "kubernetes", namespace, kubeconfig, resolveDigests: false };
    const make = () => new KubernetesDriver({ target, logger: recordingLogger() });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const driver = make();
    return {
      driver,
      reopen: make,
      project: "conf",
      env: "test",
      service: resolvedService("web", {
        image: IMAGE,
        port: PORT,
        // busybox: print the start line, then serve / with its httpd.
        command: [
          "sh",
          "-c",
          `mkdir -p /www && echo ok > /www/index.html && echo listening on ${PORT} && exec httpd -f -p ${PORT} -h /www`,
        ],
        health: {
          http: "/",
          interval: 1000,
          timeout: 2000,
          startPeriod: 0,
          startTimeout: 120_000,
          healthyThreshold: 1,
          unhealthyThreshold: 3,
        },
      }),
      startLine: new RegExp(`listening on ${PORT}`),
      // Through the API server's pod proxy: reaches a pod from outside the cluster.
      async reach(i: Instance) {
        const pods = await core.listNamespacedPod({
          namespace,
          labelSelector: `slipway.dev/service=web,slipway.dev/revision=${i.revision}`,
        });
        const pod = pods.items.map((p) => p.metadata?.name).sort()[i.index];
        if (!pod) throw new Error(`no pod for ${i.id}`);
        try {
          await core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:${PORT}`, namespace, path: "/" });
          return 200;
        } catch (e) {
          const code = (e as { code?: number }).code;
          if (code === undefined) throw e;
          return code;
        }
      },
      limits: { slotIsRouting: true, artifactsInRegistry: true, logsEndWithInstance: true },
      dispose: async () => {
        await core.deleteNamespace({ name: namespace }).catch(() => undefined);
        await double?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
);
