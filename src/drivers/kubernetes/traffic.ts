/**
 * The TrafficRouter of a Kubernetes target: no proxy, the Service's selector. Blue-green is one
 * Service apply that names the new revision; a canary weight above 0 selects every revision, so
 * traffic follows the replica counts of stable and candidate (exact weights need a mesh or an
 * ingress controller that splits). Stats come from elsewhere (Prometheus, the metrics API).
 */
import type { V1Service } from "@kubernetes/client-node";
import type { Route, TargetStats, TrafficRouter } from "../../proxy/contract.js";
import type { Cluster } from "./cluster.js";
import { orUndefined } from "./cluster.js";
import { LABEL, names } from "./manifests/names.js";
import { revisionOfId } from "./workloads.js";

export class ServiceSelectorRouter implements TrafficRouter {
  constructor(private readonly cluster: () => Cluster) {}

  async ensureRunning(): Promise<void> {}

  async setRoute(route: Route): Promise<void> {
    const c = this.cluster();
    const service = route.key.split("/")[2] ?? "";
    const name = names.service(service);
    const existing = await orUndefined(c.core.readNamespacedService({ name, namespace: c.namespace }));
    if (!existing)
      throw new Error(
        `Service ${c.namespace}/${name} does not exist (it is created with the first revision)`,
      );
    const stable = route.targets.find((t) => t.slot === "stable") ?? route.targets[0];
    const candidate = route.targets.some((t) => t.slot === "candidate") && route.candidateWeight > 0;
    const selector = { ...(existing.spec?.selector ?? {}) };
    const revision = stable ? revisionOfId(stable.id) : undefined;
    if (candidate || revision === undefined) delete selector[LABEL.revision];
    else selector[LABEL.revision] = String(revision);
    // The whole object Slipway owns, so that server-side apply keeps its ports and labels.
    const svc: V1Service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: c.namespace, labels: existing.metadata?.labels },
      spec: { type: existing.spec?.type, ports: existing.spec?.ports, selector },
    };
    await c.apply(svc);
  }

  async removeRoute(key: string): Promise<void> {
    const c = this.cluster();
    const service = key.split("/")[2] ?? "";
    await orUndefined(
      c.core.deleteNamespacedService({ name: names.service(service), namespace: c.namespace }),
    );
    await orUndefined(
      c.custom.deleteNamespacedCustomObject({
        group: "networking.k8s.io",
        version: "v1",
        namespace: c.namespace,
        plural: "ingresses",
        name: names.ingress(service),
      }),
    );
  }

  async getRoutes(): Promise<Route[]> {
    return [];
  }

  async stats(): Promise<TargetStats[]> {
    return [];
  }

  /** The kube-proxy drains by itself: endpoints leave as pods stop being selected. */
  async waitDrained(): Promise<{ drained: boolean; inFlight: number }> {
    return { drained: true, inFlight: 0 };
  }
}
