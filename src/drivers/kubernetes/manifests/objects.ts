/** The smaller objects of a release: Namespace, Secret, HorizontalPodAutoscaler, migration Job. */
import type {
  V1Job,
  V1Namespace,
  V1Secret,
  V2HorizontalPodAutoscaler,
  V2MetricSpec,
} from "@kubernetes/client-node";
import { LABEL, labelsFor, names } from "./names.js";
import { ownerOf, releaseLabels, secretKeysOf, type ServiceRelease } from "./release.js";
import { containerFor, pullSecretsField } from "./workload.js";

export function namespaceFor(namespace: string, project: string): V1Namespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: { "app.kubernetes.io/managed-by": "slipway", [LABEL.project]: project },
    },
  };
}

/**
 * The revision's secret values (env files, ${VAR} references), never a ConfigMap or an annotation.
 * One Secret per revision, so a rollback's pods read the values they were released with.
 */
export function secretFor(r: ServiceRelease): V1Secret | undefined {
  const keys = secretKeysOf(r);
  if (!keys.length) return undefined;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: names.secret(r.service.name, r.revision),
      namespace: r.namespace,
      labels: releaseLabels(r),
    },
    stringData: Object.fromEntries(keys.sort().map((k) => [k, r.vars[k] as string])),
  };
}

/** The autoscaler of one revision's Deployment; it owns the replica count from then on. */
export function hpaFor(r: ServiceRelease): V2HorizontalPodAutoscaler | undefined {
  const a = r.service.autoscale;
  if (!a || r.service.stateful) return undefined;
  const metric = (name: "cpu" | "memory", ratio: number): V2MetricSpec => ({
    type: "Resource",
    resource: { name, target: { type: "Utilization", averageUtilization: Math.round(ratio * 100) } },
  });
  const metrics: V2MetricSpec[] = [];
  if (a.cpu !== undefined) metrics.push(metric("cpu", a.cpu));
  if (a.memory !== undefined) metrics.push(metric("memory", a.memory));
  const name = names.workload(r.service.name, r.revision);
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name, namespace: r.namespace, labels: releaseLabels(r) },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
      minReplicas: a.min,
      maxReplicas: a.max,
      ...(metrics.length ? { metrics } : {}),
    },
  };
}

const jobLabels = (r: ServiceRelease) => {
  const l = labelsFor(ownerOf(r));
  return {
    "app.kubernetes.io/managed-by": "slipway",
    [LABEL.project]: l[LABEL.project] as string,
    [LABEL.environment]: l[LABEL.environment] as string,
    "slipway.dev/job-service": l[LABEL.service] as string,
  };
};

/** A one-off run of the release (migrations): runs once, never retried, cleaned up after an hour. */
export function jobFor(r: ServiceRelease, what: string, command: string): V1Job {
  // A one-off is not a server (no probes, no port), and runs its command through a shell.
  const { name, image, env, resources } = containerFor(r, []);
  const container = {
    name,
    image,
    env,
    ...(resources ? { resources } : {}),
    command: ["/bin/sh", "-c", command],
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: names.job(r.service.name, r.revision, what),
      namespace: r.namespace,
      labels: { ...releaseLabels(r), "slipway.dev/job": what },
    },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 3600,
      template: {
        // Not the service's labels: a canary Service (every revision) must never select a one-off.
        metadata: { labels: { ...jobLabels(r), "slipway.dev/job": what } },
        spec: { restartPolicy: "Never", containers: [container], ...pullSecretsField(r) },
      },
    },
  };
}
