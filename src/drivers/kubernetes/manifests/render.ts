/**
 * Every manifest of one service revision, in the order they are applied: what `slipway render`
 * prints and what the driver sends (server-side apply under one field manager).
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { ingressFor, serviceFor, type ServiceTarget } from "./network.js";
import { hpaFor, jobFor, namespaceFor, secretFor } from "./objects.js";
import type { ServiceRelease } from "./release.js";
import { claimsFor, deploymentFor, statefulSetFor, volumesOf } from "./workload.js";

export interface RenderedRelease {
  /** Secret, volume claims, workload, autoscaler: what a revision starts with. */
  workload: KubernetesObject[];
  /** Service and Ingress: what routes traffic (applied when traffic moves). */
  routing: KubernetesObject[];
  /** The migration Job, when the service declares `migrate.up`. */
  migrate?: KubernetesObject;
  /** What the cluster cannot be given, for the user (host-path volumes …). */
  notes: string[];
}

export interface RenderOptions {
  /** Which pods the Service selects (default: this revision). */
  traffic?: ServiceTarget;
  /** The replica count to set; undefined leaves it to the cluster (an existing Deployment, an HPA). */
  replicas?: number;
}

export function renderRelease(r: ServiceRelease, opts: RenderOptions = {}): RenderedRelease {
  const svc = r.service;
  const notes = volumesOf(svc.volumes).skipped.map(
    (v) => `${svc.name}: volume "${v}" is a host path; a cluster's nodes do not have it (left out)`,
  );
  const workload: KubernetesObject[] = [];
  const secret = secretFor(r);
  if (secret) workload.push(secret);
  workload.push(...claimsFor(r));
  workload.push(
    svc.stateful
      ? statefulSetFor(r, { replicas: opts.replicas })
      : deploymentFor(r, { replicas: opts.replicas }),
  );
  const hpa = hpaFor(r);
  if (hpa) workload.push(hpa);
  const routing: KubernetesObject[] = [];
  const service = serviceFor(r, opts.traffic ?? { revision: r.revision });
  if (service) routing.push(service);
  const ingress = ingressFor(r);
  if (ingress) routing.push(ingress);
  const migrate = svc.migrate?.up ? jobFor(r, "migrate", svc.migrate.up) : undefined;
  return { workload, routing, ...(migrate ? { migrate } : {}), notes };
}

/** The manifests of an environment for `slipway render`: namespace first, then each service. */
export function renderEnvironment(releases: ServiceRelease[]): {
  manifests: KubernetesObject[];
  notes: string[];
} {
  const first = releases[0];
  const manifests: KubernetesObject[] = first ? [namespaceFor(first.namespace, first.project)] : [];
  const notes: string[] = [];
  for (const r of releases) {
    const out = renderRelease(r, {
      replicas: r.service.autoscale ? undefined : r.service.replicas,
    });
    if (out.migrate) {
      // GitOps tools run it before the sync, as Slipway runs it before traffic moves.
      out.migrate.metadata = {
        ...out.migrate.metadata,
        annotations: { "argocd.argoproj.io/hook": "PreSync" },
      };
      manifests.push(out.migrate);
    }
    manifests.push(...out.workload, ...out.routing);
    notes.push(...out.notes);
  }
  return { manifests, notes };
}
