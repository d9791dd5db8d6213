/** Finding a revision's workload and pods on the cluster, by Slipway's labels. */
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { Cluster } from "./cluster.js";
import { orUndefined } from "./cluster.js";
import { LABEL, labelValue, names, ownerSelector, selectorString } from "./manifests/names.js";

export interface Workload {
  kind: "Deployment" | "StatefulSet";
  name: string;
  service: string;
  revision: number;
  version: string;
  replicas: number;
  createdAt: string;
}

/** Instance ids: `<service>-r<revision>-<index>`, the index into the workload's pods by name. */
export const instanceId = (service: string, revision: number, index: number) =>
  `${service}-r${revision}-${index}`;
export const revisionOfId = (id: string): number | undefined => {
  const m = /-r(\d+)-\d+$/.exec(id);
  return m ? Number(m[1]) : undefined;
};

function toWorkload(kind: Workload["kind"], o: V1Deployment | V1StatefulSet): Workload {
  const l = o.metadata?.labels ?? {};
  return {
    kind,
    name: o.metadata?.name ?? "",
    service: l[LABEL.service] ?? "",
    revision: Number(l[LABEL.revision] ?? 0),
    version: o.metadata?.annotations?.["slipway.dev/version"] ?? "",
    replicas: o.spec?.replicas ?? 0,
    createdAt: new Date(o.metadata?.creationTimestamp ?? Date.now()).toISOString(),
  };
}

export async function listWorkloads(c: Cluster, project: string, env: string): Promise<Workload[]> {
  const labelSelector = selectorString(ownerSelector({ project, env }));
  const [deps, sets] = await Promise.all([
    c.apps.listNamespacedDeployment({ namespace: c.namespace, labelSelector }),
    c.apps.listNamespacedStatefulSet({ namespace: c.namespace, labelSelector }),
  ]);
  // A chart's workloads keep the chart's names and are the chart instance's (chart.ts), not revisions.
  const own = (o: V1Deployment | V1StatefulSet) => !o.metadata?.labels?.["slipway.dev/role"];
  return [
    ...deps.items.filter(own).map((d) => toWorkload("Deployment", d)),
    ...sets.items.filter(own).map((s) => toWorkload("StatefulSet", s)),
  ];
}

/** The pods of one revision of a service, in a stable order (by name). */
export async function podsOf(
  c: Cluster,
  project: string,
  env: string,
  service: string,
  revision: number,
): Promise<V1Pod[]> {
  const labelSelector = selectorString({
    ...ownerSelector({ project, env, service }),
    [LABEL.revision]: String(revision),
  });
  const pods = await c.core.listNamespacedPod({ namespace: c.namespace, labelSelector });
  return pods.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
}

/** The revision the service's Service selects (undefined: no Service, or every revision), and its port. */
export async function routeOf(c: Cluster, service: string): Promise<{ revision?: number; port?: number }> {
  const s = await orUndefined(
    c.core.readNamespacedService({ name: names.service(service), namespace: c.namespace }),
  );
  const r = s?.spec?.selector?.[LABEL.revision];
  const port = s?.spec?.ports?.[0]?.port;
  return { ...(r !== undefined ? { revision: Number(r) } : {}), ...(port !== undefined ? { port } : {}) };
}

export async function routedRevision(c: Cluster, service: string): Promise<number | undefined> {
  return (await routeOf(c, service)).revision;
}

export const serviceLabel = (s: string) => labelValue(s);
