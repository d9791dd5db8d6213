/**
 * The connection to a cluster, through @kubernetes/client-node only. Before anything is sent the
 * kubeconfig is checked against the spec (seed 004's "is this really prod?"): the context must be
 * the one `target.context` names, and with `target.cluster` the context's cluster entry must carry
 * that name; otherwise the operation is refused (exit 4) naming both.
 */
import { delimiter } from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { Refused } from "../../errors.js";
import type { KubernetesTarget } from "../../spec/schema-kubernetes.js";
import { checkKubeContext, existingKubeconfigs } from "./context-check.js";
import { FIELD_MANAGER } from "./manifests/names.js";

export interface Cluster {
  /** The checked kubeconfig (exec and log streams build their own connections from it). */
  config: KubeConfig;
  namespace: string;
  context: string;
  cluster: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  custom: CustomObjectsApi;
  networking: NetworkingV1Api;
  /** Any kind by apiVersion/kind (charts' objects): read, list, delete. */
  objects: KubernetesObjectApi;
  /** Server-side apply under Slipway's field manager (forced: Slipway owns what it declares). */
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
}

/** Load the kubeconfig and check it against the target; throws Refused when they disagree. */
export function loadKubeConfig(target: KubernetesTarget, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  checkKubeContext(target, env);
  const files = existingKubeconfigs(target, env);
  const kc = new KubeConfig();
  if (files.length) mergeKubeconfigs(kc, files);
  else kc.loadFromDefault(); // no kubeconfig, none named: in a pod, its service account
  const current = kc.getCurrentContext();
  const wanted = target.context ?? current;
  const ctx = kc.getContextObject(wanted);
  if (!ctx)
    throw new Refused(
      `the spec names kubeconfig context "${wanted}" but the kubeconfig (${files.join(delimiter) || "none"}) has no such context (current: "${current}")`,
    );
  if (target.cluster !== undefined && ctx.cluster !== target.cluster)
    throw new Refused(
      `context "${wanted}" points at cluster "${ctx.cluster}", but the spec names cluster "${target.cluster}": refusing to touch the wrong cluster`,
    );
  kc.setCurrentContext(wanted);
  return kc;
}

/** Several kubeconfig files as kubectl merges them: the first file to set a name (or the current context) wins. */
function mergeKubeconfigs(kc: KubeConfig, files: string[]): void {
  kc.loadFromFile(files[0] as string);
  for (const f of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(f);
    const has = <T extends { name: string }>(list: T[], x: T) => list.some((y) => y.name === x.name);
    for (const c of more.clusters) if (!has(kc.clusters, c)) kc.addCluster(c);
    for (const u of more.users) if (!has(kc.users, u)) kc.addUser(u);
    for (const c of more.contexts) if (!has(kc.contexts, c)) kc.addContext(c);
    if (!kc.getCurrentContext() && more.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
  }
}

export function connect(target: KubernetesTarget): Cluster {
  const kc = loadKubeConfig(target);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return {
    config: kc,
    namespace: target.namespace,
    context: kc.getCurrentContext(),
    cluster: ctx?.cluster ?? "",
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    networking: kc.makeApiClient(NetworkingV1Api),
    objects,
    apply: <T extends KubernetesObject>(obj: T) =>
      objects.patch(
        obj,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ) as Promise<T>,
  };
}

/** The HTTP status of a client-node error (404 for a missing object), if it has one. */
export const statusOf = (e: unknown): number | undefined => (e as { code?: number }).code;

export async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}
