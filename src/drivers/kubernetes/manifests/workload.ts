/**
 * The workload of one service revision: a Deployment (one per revision, so blue-green keeps the
 * previous one running and a rollback is a Service selector switch), or for `stateful` services one
 * StatefulSet with its volume claims, kept under one name so the data carries over between revisions.
 */
import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1PersistentVolumeClaim,
  V1PodTemplateSpec,
  V1StatefulSet,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { shellWords } from "../../../util/shell-words.js";
import { ANNOTATION, LABEL, dnsLabel, labelsFor, names } from "./names.js";
import { probesFor } from "./probes.js";
import { containerPortOf, ownerOf, releaseLabels, secretKeysOf, type ServiceRelease } from "./release.js";
import { resourcesFor } from "./resources.js";
import { extraPortVar } from "../../../spec/schema-ports.js";

/** Default size of a volume claim (the spec's `volumes` carry no size). */
export const DEFAULT_CLAIM_SIZE = "1Gi";

export interface Volume {
  name: string;
  mountPath: string;
  readOnly: boolean;
}

/**
 * Named volumes (`pgdata:/var/lib/postgresql/data`) become volume claims; host paths cannot reach a
 * cluster's nodes and are reported in `skipped`.
 */
export function volumesOf(specs: string[]): { volumes: Volume[]; skipped: string[] } {
  const volumes: Volume[] = [];
  const skipped: string[] = [];
  for (const v of specs) {
    const [src = "", path = "", mode] = v.split(":");
    if (!path || src.startsWith(".") || src.startsWith("/") || src.startsWith("~")) skipped.push(v);
    else volumes.push({ name: dnsLabel(src), mountPath: path, readOnly: mode === "ro" });
  }
  return { volumes, skipped };
}

function envVars(r: ServiceRelease): V1EnvVar[] {
  const secret = new Set(secretKeysOf(r));
  const port = containerPortOf(r.service);
  const all: Record<string, string> = {
    ...r.vars,
    ...(port !== undefined ? { PORT: String(port) } : {}),
    ...Object.fromEntries(
      (r.service.ports ?? []).map((p) => [extraPortVar(p.name), String(p.containerPort)]),
    ),
  };
  return Object.keys(all)
    .sort()
    .map((name) =>
      secret.has(name)
        ? { name, valueFrom: { secretKeyRef: { name: names.secret(r.service.name, r.revision), key: name } } }
        : { name, value: all[name] },
    );
}

/** The main port ("http") and the further `ports:`, each named after its spec name. */
function containerPorts(
  svc: ServiceRelease["service"],
  port: number | undefined,
): Pick<V1Container, "ports"> {
  const ports = [
    ...(port !== undefined ? [{ name: "http", containerPort: port, protocol: "TCP" }] : []),
    ...(svc.ports ?? []).map((p) => ({
      name: dnsLabel(p.name).slice(0, 15),
      containerPort: p.containerPort,
      protocol: "TCP",
    })),
  ];
  return ports.length ? { ports } : {};
}

export function containerFor(r: ServiceRelease, mounts: Volume[]): V1Container {
  const svc = r.service;
  const port = containerPortOf(svc);
  const resources = resourcesFor(svc);
  const cmd = svc.command;
  const volumeMounts: V1VolumeMount[] = mounts.map((m) => ({
    name: m.name,
    mountPath: m.mountPath,
    ...(m.readOnly ? { readOnly: true } : {}),
  }));
  return {
    name: dnsLabel(svc.name),
    image: r.image,
    // Like Docker's `command`, it replaces the image's CMD and keeps its ENTRYPOINT.
    ...(cmd !== undefined ? { args: Array.isArray(cmd) ? cmd : shellWords(cmd) } : {}),
    ...containerPorts(svc, port),
    env: envVars(r),
    ...(resources ? { resources } : {}),
    ...probesFor(svc, port),
    ...(volumeMounts.length ? { volumeMounts } : {}),
  };
}

function podTemplate(r: ServiceRelease, mounts: Volume[], volumes?: V1Volume[]): V1PodTemplateSpec {
  return {
    metadata: {
      labels: releaseLabels(r),
      annotations: { [ANNOTATION.version]: r.version },
    },
    spec: {
      containers: [containerFor(r, mounts)],
      terminationGracePeriodSeconds: Math.ceil(r.service.stop.grace / 1000),
      ...pullSecretsField(r),
      ...(volumes?.length ? { volumes } : {}),
    },
  };
}

/** The labels a revision's workload selects its pods by (immutable once created). */
export function podSelector(r: ServiceRelease): Record<string, string> {
  const l = releaseLabels(r);
  const keys = [LABEL.project, LABEL.environment, LABEL.service, LABEL.revision];
  return Object.fromEntries(keys.map((k) => [k, l[k] as string]));
}

/**
 * `replicas` is set only when given: with an autoscaler the HPA owns the count, so the driver passes
 * it only when it creates the Deployment, and `slipway render` leaves it out.
 */
export function deploymentFor(r: ServiceRelease, opts: { replicas?: number } = {}): V1Deployment {
  const { volumes } = volumesOf(r.service.volumes);
  const claims: V1Volume[] = volumes.map((v) => ({
    name: v.name,
    persistentVolumeClaim: { claimName: v.name },
  }));
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: names.workload(r.service.name, r.revision),
      namespace: r.namespace,
      labels: releaseLabels(r),
      annotations: { [ANNOTATION.version]: r.version },
    },
    spec: {
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
      selector: { matchLabels: podSelector(r) },
      template: podTemplate(r, volumes, claims),
    },
  };
}

export function statefulSetFor(r: ServiceRelease, opts: { replicas?: number } = {}): V1StatefulSet {
  const { volumes } = volumesOf(r.service.volumes);
  const templates: V1PersistentVolumeClaim[] = volumes.map((v) => ({
    metadata: { name: v.name },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: DEFAULT_CLAIM_SIZE } } },
  }));
  const l = releaseLabels(r);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: names.statefulSet(r.service.name),
      namespace: r.namespace,
      labels: l,
      annotations: { [ANNOTATION.version]: r.version },
    },
    spec: {
      serviceName: names.service(r.service.name),
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
      // Selected by service, not revision: the selector of a StatefulSet cannot change.
      selector: {
        matchLabels: {
          [LABEL.project]: l[LABEL.project] as string,
          [LABEL.environment]: l[LABEL.environment] as string,
          [LABEL.service]: l[LABEL.service] as string,
        },
      },
      template: podTemplate(r, volumes),
      ...(templates.length ? { volumeClaimTemplates: templates } : {}),
    },
  };
}

/** Standalone claims for the named volumes of a Deployment (shared by its revisions). */
export function claimsFor(r: ServiceRelease): V1PersistentVolumeClaim[] {
  if (r.service.stateful) return [];
  return volumesOf(r.service.volumes).volumes.map((v) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: v.name,
      namespace: r.namespace,
      labels: labelsFor(ownerOf(r)),
    },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: DEFAULT_CLAIM_SIZE } } },
  }));
}

/** `imagePullSecrets` of a pod spec, when the release has any. */
export const pullSecretsField = (r: ServiceRelease) =>
  r.pullSecrets?.length ? { imagePullSecrets: r.pullSecrets.map((name) => ({ name })) } : {};
