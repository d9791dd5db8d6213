/**
 * How traffic reaches a service: one Service whose selector names the stable revision (blue-green
 * is a selector switch; canary drops the revision so stable and candidate pods share traffic by
 * their replica counts), and an Ingress for the service's `domains` and `tls`.
 */
import type { V1Ingress, V1Service } from "@kubernetes/client-node";
import { LABEL, labelsFor, names } from "./names.js";
import { containerPortOf, ownerOf, type ServiceRelease } from "./release.js";

/** Which pods the Service sends to: one revision, or (canary by replica ratio) every revision. */
export type ServiceTarget = { revision: number } | { allRevisions: true };

export function serviceSelector(r: ServiceRelease, target: ServiceTarget): Record<string, string> {
  const l = labelsFor(ownerOf(r));
  return {
    [LABEL.project]: l[LABEL.project] as string,
    [LABEL.environment]: l[LABEL.environment] as string,
    [LABEL.service]: l[LABEL.service] as string,
    ...("revision" in target ? { [LABEL.revision]: String(target.revision) } : {}),
  };
}

export function serviceFor(r: ServiceRelease, target: ServiceTarget): V1Service | undefined {
  const svc = r.service;
  if (svc.port === undefined) return undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: names.service(svc.name), namespace: r.namespace, labels: labelsFor(ownerOf(r)) },
    spec: {
      type: "ClusterIP",
      selector: serviceSelector(r, target),
      ports: [
        { name: "http", port: svc.port, targetPort: containerPortOf(svc) ?? svc.port, protocol: "TCP" },
      ],
    },
  };
}

/** Annotation on a service's Ingress: canary weights by the NGINX ingress controller. */
export const NGINX_MODE = "slipway.dev/traffic-routing";

export function ingressFor(r: ServiceRelease): V1Ingress | undefined {
  const svc = r.service;
  if (!svc.domains?.length || svc.port === undefined) return undefined;
  const backend = { service: { name: names.service(svc.name), port: { number: svc.port } } };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: {
      name: names.ingress(svc.name),
      namespace: r.namespace,
      labels: labelsFor(ownerOf(r)),
      // The router reads the mode from here (it knows the cluster, not the spec).
      ...(svc.rollout.trafficRouting === "nginx" ? { annotations: { [NGINX_MODE]: "nginx" } } : {}),
    },
    spec: {
      ...(svc.tls ? { tls: [{ hosts: svc.domains, secretName: svc.tls.secretName }] } : {}),
      rules: svc.domains.map((host) => ({
        host,
        http: { paths: [{ path: "/", pathType: "Prefix", backend }] },
      })),
    },
  };
}

/** The URLs users reach a service by: https when the Ingress has TLS. */
export function urlsOf(r: Pick<ServiceRelease, "service">): string[] {
  const svc = r.service;
  return (svc.domains ?? []).map((d) => `${svc.tls ? "https" : "http"}://${d}`);
}
