/**
 * A chart's rendered objects as Slipway applies, records and keeps them: labelled with
 * `slipway.dev/*` so they can be found (and only those pruned), recorded in the revision with
 * Secrets as references (names, keys and a digest, never values), and kept per revision on the
 * cluster in a snapshot Secret (it may hold the chart's Secret values) so a rollback re-applies
 * exactly what that revision applied, whatever the working tree holds now.
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import type { ResolvedService } from "../../spec/resolved.js";
import { ANNOTATION, dnsLabel, LABEL, labelValue, ownerSelector, type Owner } from "./manifests/names.js";

/** What an object of a chart service is to Slipway: one of the chart's objects, or bookkeeping. */
export const ROLE = "slipway.dev/role";
export const ROLES = {
  object: "chart-object",
  snapshot: "chart-snapshot",
  release: "chart-release",
  /** A helm hook (`helm.sh/hook`) run in its phase (chart-hooks.ts), not one of the applied objects. */
  hook: "chart-hook",
} as const;

export const chartNames = {
  /** Per artifact revision: the rendered objects, exactly (a Secret: they may hold secret values). */
  snapshot: (service: string, revision: number) => `${dnsLabel(service, 44)}-r${revision}-chart`,
  /** Per service: which revision is applied, and the objects it applied (what prune and stop use). */
  release: (service: string) => `${dnsLabel(service, 50)}-chart`,
};

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export const refOf = (o: KubernetesObject): ObjectRef => ({
  apiVersion: o.apiVersion ?? "v1",
  kind: o.kind ?? "",
  name: o.metadata?.name ?? "",
  ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
});
export const refKey = (r: ObjectRef) => `${r.apiVersion}/${r.kind}/${r.namespace ?? ""}/${r.name}`;

/** The order `helm install` creates kinds in: what others refer to first, workloads after. */
const ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "PersistentVolumeClaim",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "Service",
  "DaemonSet",
  "Pod",
  "Deployment",
  "StatefulSet",
  "Job",
  "CronJob",
  "HorizontalPodAutoscaler",
  "Ingress",
];
const rank = (o: KubernetesObject) => {
  const i = ORDER.indexOf(o.kind ?? "");
  return i < 0 ? ORDER.length : i;
};
export const inApplyOrder = (objects: KubernetesObject[]) => [...objects].sort((a, b) => rank(a) - rank(b));

/** The chart's object with Slipway's labels and version annotation added (the chart's own kept). */
export function labelled(
  o: KubernetesObject,
  owner: Owner,
  revision: number,
  version: string,
): KubernetesObject {
  return {
    ...o,
    metadata: {
      ...o.metadata,
      labels: {
        ...o.metadata?.labels,
        ...ownerSelector(owner),
        [LABEL.revision]: String(revision),
        [ROLE]: ROLES.object,
      },
      annotations: { ...o.metadata?.annotations, [ANNOTATION.version]: version },
    },
  };
}

/** True when a live object carries this service's labels (the only ones prune and stop delete). */
export function ownedBy(o: KubernetesObject | undefined, owner: Owner, role: string = ROLES.object): boolean {
  const l = o?.metadata?.labels ?? {};
  return Object.entries({ ...ownerSelector(owner), [ROLE]: role }).every(([k, v]) => l[k] === v);
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** What the revision records: every object as rendered, except Secrets, which are references. */
export function recordOf(
  svc: ResolvedService,
  objects: KubernetesObject[],
  digest: string,
): Record<string, unknown> {
  const chart = svc.chart;
  return {
    chart:
      typeof chart === "string"
        ? chart
        : `${chart?.repo} ${chart?.name}${chart?.version ? `@${chart.version}` : ""}`,
    digest: `sha256:${digest}`,
    objects: objects.map((o) => {
      if (o.kind !== "Secret") return o;
      const s = o as V1Secret;
      const data = { ...s.data, ...s.stringData };
      return {
        ...refOf(o),
        keys: Object.keys(data).sort(),
        sha256: sha256(JSON.stringify(Object.entries(data).sort())),
        note: "a Secret: its values stay on the cluster, never in Slipway's store",
      };
    }),
  };
}

export function digestOf(objects: KubernetesObject[]): string {
  return sha256(JSON.stringify(objects));
}

/** The snapshot Secret of an artifact revision's rendered objects (gzip-compressed JSON). */
export function snapshotSecret(
  owner: Owner,
  namespace: string,
  revision: number,
  objects: KubernetesObject[],
  digest: string,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "slipway.dev/chart-snapshot",
    metadata: {
      name: chartNames.snapshot(owner.service, revision),
      namespace,
      labels: { ...ownerSelector(owner), [LABEL.revision]: String(revision), [ROLE]: ROLES.snapshot },
      annotations: { "slipway.dev/digest": `sha256:${digest}` },
    },
    data: { "objects.json.gz": gzipSync(JSON.stringify(objects)).toString("base64") },
  };
}

export function objectsOfSnapshot(s: V1Secret): KubernetesObject[] {
  const data = s.data?.["objects.json.gz"];
  if (!data) return [];
  return JSON.parse(gunzipSync(Buffer.from(data, "base64")).toString("utf8")) as KubernetesObject[];
}

/** The release pointer: the applied revision, the one before it, and the objects it applied. */
export interface ChartRelease {
  revision: number;
  version: string;
  artifact: number;
  previous?: number;
  objects: ObjectRef[];
  appliedAt: string;
  /** The post-install|upgrade|rollback hooks still to run once the workloads are rolled out. */
  post?: string;
  /** Why a post hook failed (the gate reports it). */
  hookFailure?: string;
  /** Hook objects left on the cluster (no hook-succeeded policy): stop and destroy delete them. */
  hooks?: ObjectRef[];
}

export function releaseConfigMap(
  owner: Owner,
  namespace: string,
  r: ChartRelease,
): KubernetesObject & {
  data: Record<string, string>;
} {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: chartNames.release(owner.service),
      namespace,
      labels: { ...ownerSelector(owner), [LABEL.revision]: String(r.revision), [ROLE]: ROLES.release },
      annotations: { [ANNOTATION.version]: r.version },
    },
    data: { release: JSON.stringify(r) },
  };
}

export function releaseOfConfigMap(
  cm: { data?: Record<string, string> } | undefined,
): ChartRelease | undefined {
  const raw = cm?.data?.release;
  return raw ? (JSON.parse(raw) as ChartRelease) : undefined;
}

export const serviceOfLabels = (l: Record<string, string> | undefined) =>
  labelValue(l?.[LABEL.service] ?? "");
