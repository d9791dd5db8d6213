/**
 * The slipway.yaml fields the Kubernetes target adds: the target block (context, cluster,
 * namespace), and per service `autoscale`, `resources.requests`, `domains` and `tls`.
 * Other targets accept and ignore the service fields, so one file serves every environment.
 */
import { z } from "zod";
import { percent, size } from "./fields.js";
import { serviceTlsSchema, type ServiceTls } from "./schema-edge.js";

/** CPU in cores: 0.5, or Kubernetes' millicores "500m". */
export const cpuQuantity = (description: string) =>
  z
    .union([z.number().positive(), z.string()])
    .transform((v, ctx) => {
      if (typeof v === "number") return v;
      const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(v.trim());
      if (!m || Number(m[1]) <= 0) {
        ctx.addIssue({ code: "custom", message: 'expected cores (0.5) or millicores ("500m")' });
        return z.NEVER;
      }
      return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
    })
    .describe(description);

export const resourceRequestsSchema = z
  .strictObject({
    cpus: cpuQuantity('CPU the scheduler reserves, in cores (0.5) or millicores ("500m").').optional(),
    memory: size("Memory the scheduler reserves.").optional(),
  })
  .describe("Kubernetes: resource requests (what the scheduler reserves); limits stay `cpus`/`memory`.");

export const autoscaleSchema = z
  .strictObject({
    min: z.number().int().min(1).describe("Fewest replicas."),
    max: z.number().int().min(1).describe("Most replicas."),
    cpu: percent("Target average CPU utilisation (of the requests), e.g. 70%.").optional(),
    memory: percent("Target average memory utilisation (of the requests), e.g. 80%.").optional(),
  })
  .refine((a) => a.max >= a.min, "max must be at least min")
  .describe(
    "Kubernetes: a HorizontalPodAutoscaler owns the replica count between min and max; Slipway sets " +
      "`replicas` only when it creates a Deployment and never fights the autoscaler.",
  );

export const kubernetesTlsSchema = z
  .strictObject({
    secretName: z.string().describe("The Secret (type kubernetes.io/tls) holding the certificate."),
  })
  .describe("Kubernetes: TLS for the service's `domains`, terminated by the Ingress.");

export const chartSchema = z
  .union([
    z.string().describe("A chart directory or packaged chart (relative to slipway.yaml)."),
    z.strictObject({
      repo: z.string().describe("Chart repository URL."),
      name: z.string().describe("Chart name in the repository."),
      version: z.string().optional().describe("Chart version (default: the latest)."),
    }),
  ])
  .describe(
    "Kubernetes: a Helm chart rendered by the real `helm template` (on PATH or $SLIPWAY_HELM) and applied by Slipway " +
      "(server-side apply, no Helm release); its objects keep the chart's names and roll out the way the chart defines, " +
      "gated on its workloads' rollout status; history and rollback are Slipway's.",
  );

/** Service fields spread into the service schema (schema.ts). */
export const kubernetesServiceFields = {
  chart: chartSchema.optional(),
  values: z.record(z.string(), z.unknown()).optional().describe("Kubernetes: values given to the chart."),
  valuesFiles: z
    .array(z.string())
    .optional()
    .describe("Kubernetes: values files given to the chart (relative to slipway.yaml), before `values`."),
  autoscale: autoscaleSchema.optional(),
  domains: z
    .array(z.string())
    .optional()
    .describe(
      "Host names users reach the service by: routed by Host/SNI on the environment's shared `proxy.http`/`proxy.https` listeners (process and Docker targets), rules of an Ingress (Kubernetes).",
    ),
  tls: serviceTlsSchema.optional(),
  imagePullSecrets: z
    .array(z.string())
    .optional()
    .describe(
      "Kubernetes: existing Secrets (type kubernetes.io/dockerconfigjson) the service's pods pull their image with, beside the target's.",
    ),
};

export const registrySchema = z
  .strictObject({
    server: z.string().describe("The registry host, as in image names (registry.example.com, ghcr.io)."),
    username: z
      .string()
      .optional()
      .describe(
        "User name; without username and password they come from ~/.docker/config.json (`docker login`).",
      ),
    password: z
      .string()
      .optional()
      .describe(
        'Password or token: give it as a reference, e.g. "${REGISTRY_PASSWORD}" (never stored, never printed).',
      ),
  })
  .describe(
    "Kubernetes: a private registry. Its credentials resolve image digests, and Slipway keeps a Secret " +
      "`<project>-registry` (type kubernetes.io/dockerconfigjson) from them that every pod it creates pulls with.",
  );

export const kubernetesTarget = z.strictObject({
  kind: z.literal("kubernetes"),
  context: z
    .string()
    .optional()
    .describe(
      "The kubeconfig context to use; it must be the kubeconfig's current context or named here (checked before anything is sent).",
    ),
  cluster: z
    .string()
    .optional()
    .describe("The cluster entry the context must point at; anything else is refused (exit 4)."),
  namespace: z.string().default("default").describe("Namespace of every object (created when missing)."),
  kubeconfig: z
    .string()
    .optional()
    .describe(
      "Kubeconfig file, relative to slipway.yaml, or several joined by ':' as in $KUBECONFIG (default: the $KUBECONFIG of the shell running the command, else ~/.kube/config; the daemon uses the caller's, not its own). A kubeconfig that does not exist is refused (exit 4).",
    ),
  registry: registrySchema.optional(),
  imagePullSecrets: z
    .array(z.string())
    .optional()
    .describe(
      "Existing Secrets (type kubernetes.io/dockerconfigjson) every pod Slipway creates pulls its image with.",
    ),
  resolveDigests: z
    .boolean()
    .optional()
    .describe(
      "Resolve image tags to digests when deploying (OCI distribution API; credentials from `registry` or " +
        "~/.docker/config.json, else anonymous; 5 s timeout) and record them in " +
        "the revision; pods run `image:tag@sha256:…`, and a rollback runs the recorded digest. Default true; when the " +
        'registry cannot be asked the tag is kept and the deploy says "could not resolve digest (reason)".',
    ),
});

export type KubernetesTarget = z.output<typeof kubernetesTarget>;
export type Registry = z.output<typeof registrySchema>;
export type Autoscale = z.output<typeof autoscaleSchema>;
export type ResourceRequests = z.output<typeof resourceRequestsSchema>;

/** The Kubernetes fields of a parsed service, as resolve() copies them into the resolved service. */
export type Chart = z.output<typeof chartSchema>;
export interface KubernetesServiceFields {
  autoscale?: Autoscale;
  domains?: string[];
  tls?: ServiceTls;
  chart?: Chart;
  values?: Record<string, unknown>;
  valuesFiles?: string[];
  imagePullSecrets?: string[];
}

export function kubernetesFields(s: KubernetesServiceFields): KubernetesServiceFields {
  return {
    ...(s.chart ? { chart: s.chart } : {}),
    ...(s.values ? { values: s.values } : {}),
    ...(s.valuesFiles?.length ? { valuesFiles: s.valuesFiles } : {}),
    ...(s.autoscale ? { autoscale: s.autoscale } : {}),
    ...(s.domains?.length ? { domains: s.domains } : {}),
    ...(s.tls ? { tls: s.tls } : {}),
    ...(s.imagePullSecrets?.length ? { imagePullSecrets: s.imagePullSecrets } : {}),
  };
}
