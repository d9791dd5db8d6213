/**
 * Validates manifests against the Kubernetes OpenAPI schemas (the `kubernetes-models` package,
 * generated from Kubernetes 1.27's OpenAPI spec): types, required fields, formats and enums.
 * Unknown fields are not rejected by those schemas; the renderers are typed with
 * @kubernetes/client-node's object types, so the compiler rejects them instead.
 */
import { Namespace, PersistentVolumeClaim, Secret, Service } from "kubernetes-models/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Job } from "kubernetes-models/batch/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/Service": Service as unknown as ModelClass,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as unknown as ModelClass,
  "apps/v1/Deployment": Deployment as unknown as ModelClass,
  "apps/v1/StatefulSet": StatefulSet as unknown as ModelClass,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as ModelClass,
  "batch/v1/Job": Job as unknown as ModelClass,
  "networking.k8s.io/v1/Ingress": Ingress as unknown as ModelClass,
};

/** Throws with the schema's message when the manifest is not a valid object of its kind. */
export function validateManifest(m: {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}): void {
  const key = `${m.apiVersion}/${m.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  try {
    new Model(m as never).validate();
  } catch (e) {
    throw new Error(`${key} ${m.metadata?.name ?? "?"}: ${(e as Error).message}`);
  }
}
