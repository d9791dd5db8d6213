/**
 * The TrafficRouter of a Kubernetes target: no proxy, the Service's selector. Blue-green is one
 * Service apply that names the new revision; a canary weight above 0 selects every revision, so
 * traffic follows the replica counts of stable and candidate (exact weights need a mesh or an
 * ingress controller that splits). With `rollout.trafficRouting: nginx` (marked on the service's
 * Ingress) the weight is exact: the Service stays on the stable revision, and a canary Service and
 * Ingress (`<service>-canary`, annotated `nginx.ingress.kubernetes.io/canary-weight`) carry the
 * candidate's share. Stats come from elsewhere (Prometheus, the metrics API).
 */
import type { V1Ingress, V1Service } from "@kubernetes/client-node";
import type { Route, TargetStats, TrafficRouter } from "../../proxy/contract.js";
import type { Cluster } from "./cluster.js";
import { orUndefined } from "./cluster.js";
import { LABEL, names } from "./manifests/names.js";
import { NGINX_MODE } from "./manifests/network.js";
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
    const cand = route.targets.find((t) => t.slot === "candidate");
    const candidate = cand !== undefined && route.candidateWeight > 0;
    const ingress = await this.ingress(c, service);
    const nginx = ingress?.metadata?.annotations?.[NGINX_MODE] === "nginx";
    const selector = { ...(existing.spec?.selector ?? {}) };
    const revision = stable ? revisionOfId(stable.id) : undefined;
    if ((candidate && !nginx) || revision === undefined) delete selector[LABEL.revision];
    else selector[LABEL.revision] = String(revision);
    // The whole object Slipway owns, so that server-side apply keeps its ports and labels.
    const svc: V1Service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: c.namespace, labels: existing.metadata?.labels },
      spec: { type: existing.spec?.type, ports: existing.spec?.ports, selector },
    };
    await c.apply(svc);
    if (!nginx || !ingress) return;
    const canaryRevision = cand ? revisionOfId(cand.id) : undefined;
    if (candidate && canaryRevision !== undefined)
      await this.applyCanary(c, svc, ingress, canaryRevision, route.candidateWeight);
    else await this.removeCanary(c, service);
  }

  private async ingress(c: Cluster, service: string): Promise<V1Ingress | undefined> {
    return orUndefined(
      c.networking.readNamespacedIngress({ name: names.ingress(service), namespace: c.namespace }),
    );
  }

  /** The candidate's Service and the NGINX canary Ingress with the exact weight. */
  private async applyCanary(
    c: Cluster,
    main: V1Service,
    ingress: V1Ingress,
    revision: number,
    weight: number,
  ) {
    const name = `${main.metadata?.name}-canary`;
    await c.apply<V1Service>({
      ...main,
      metadata: { ...main.metadata, name },
      spec: { ...main.spec, selector: { ...main.spec?.selector, [LABEL.revision]: String(revision) } },
    });
    const rules = (ingress.spec?.rules ?? []).map((r) => ({
      ...r,
      http: {
        paths: (r.http?.paths ?? []).map((p) => ({
          ...p,
          backend: { service: { name, port: p.backend.service?.port } },
        })),
      },
    }));
    await c.apply<V1Ingress>({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: `${ingress.metadata?.name}-canary`,
        namespace: c.namespace,
        labels: ingress.metadata?.labels,
        annotations: {
          "nginx.ingress.kubernetes.io/canary": "true",
          "nginx.ingress.kubernetes.io/canary-weight": String(Math.round(weight)),
        },
      },
      spec: {
        ...(ingress.spec?.ingressClassName ? { ingressClassName: ingress.spec.ingressClassName } : {}),
        rules,
      },
    });
  }

  private async removeCanary(c: Cluster, service: string): Promise<void> {
    const namespace = c.namespace;
    await orUndefined(
      c.networking.deleteNamespacedIngress({ name: `${names.ingress(service)}-canary`, namespace }),
    );
    await orUndefined(
      c.core.deleteNamespacedService({ name: `${names.service(service)}-canary`, namespace }),
    );
  }

  async removeRoute(key: string): Promise<void> {
    const c = this.cluster();
    const service = key.split("/")[2] ?? "";
    await orUndefined(
      c.core.deleteNamespacedService({ name: names.service(service), namespace: c.namespace }),
    );
    await this.removeCanary(c, service);
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
