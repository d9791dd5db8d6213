/**
 * The health gate of a chart: the rollout status of its workloads as `kubectl rollout status`
 * reads it (observedGeneration caught up, every replica updated, ready and available, no old
 * ones left), and, while a workload is not rolled out, its pods' problems (CrashLoopBackOff,
 * ImagePullBackOff, OOMKilled, Unschedulable) with their Warning events, reported at once.
 */
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node";
import { orUndefined, type Cluster } from "./cluster.js";
import type { ObjectRef } from "./chart-objects.js";
import { podWarnings } from "./observe.js";
import { viewOf } from "./pods.js";

export const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

interface WorkloadObject extends KubernetesObject {
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    updateStrategy?: { type?: string };
  };
  status?: Record<string, unknown> & {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface ChartHealth {
  ready: boolean;
  /** What is still rolling out, or why it cannot (the first workload that is not ready). */
  waiting?: string;
  problem?: string;
  pod?: string;
  events?: string[];
  restarts: number;
  pods: V1Pod[];
}

const num = (v: unknown) => (typeof v === "number" ? v : 0);

/** Why a workload is not rolled out yet (undefined: it is), from its status alone. */
export function notRolledOut(o: WorkloadObject): string | undefined {
  const st = o.status ?? {};
  const name = `${o.kind?.toLowerCase()} "${o.metadata?.name}"`;
  if ((o.metadata?.generation ?? 0) > num(st.observedGeneration))
    return `${name}: waiting for the controller`;
  if (o.kind === "DaemonSet") {
    const want = num(st.desiredNumberScheduled);
    if (num(st.updatedNumberScheduled) < want)
      return `${name}: ${num(st.updatedNumberScheduled)} of ${want} updated`;
    if (num(st.numberAvailable) < want) return `${name}: ${num(st.numberAvailable)} of ${want} available`;
    return undefined;
  }
  const want = o.spec?.replicas ?? 1;
  const updated = num(st.updatedReplicas);
  if (o.kind === "Deployment") {
    const stuck = st.conditions?.find(
      (c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded",
    );
    if (stuck) return `${name}: ProgressDeadlineExceeded: ${stuck.message ?? "no progress"}`;
    if (updated < want) return `${name}: ${updated} of ${want} updated replicas`;
    if (num(st.replicas) > updated)
      return `${name}: ${num(st.replicas) - updated} old replica(s) pending termination`;
    if (num(st.availableReplicas) < updated)
      return `${name}: ${num(st.availableReplicas)} of ${updated} available`;
    return undefined;
  }
  // StatefulSet
  if (num(st.readyReplicas) < want) return `${name}: ${num(st.readyReplicas)} of ${want} ready`;
  if (o.spec?.updateStrategy?.type !== "OnDelete") {
    if (updated < want) return `${name}: ${updated} of ${want} updated`;
    if (st.updateRevision && st.currentRevision && st.updateRevision !== st.currentRevision)
      return `${name}: revision ${String(st.updateRevision)} rolling out`;
  }
  return undefined;
}

async function podsOfWorkload(c: Cluster, o: WorkloadObject): Promise<V1Pod[]> {
  const match = o.spec?.selector?.matchLabels;
  if (!match || !Object.keys(match).length) return [];
  const labelSelector = Object.entries(match)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const list = await c.core.listNamespacedPod({
    namespace: o.metadata?.namespace ?? c.namespace,
    labelSelector,
  });
  return list.items
    .filter((p) => !p.metadata?.deletionTimestamp)
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
}

/** The chart's health now: ready when every workload is rolled out; otherwise why not. */
export async function chartHealth(c: Cluster, applied: ObjectRef[]): Promise<ChartHealth> {
  const out: ChartHealth = { ready: true, restarts: 0, pods: [] };
  for (const ref of applied.filter((r) => WORKLOAD_KINDS.has(r.kind))) {
    const o = (await orUndefined(
      c.objects.read({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, namespace: ref.namespace ?? c.namespace },
      }),
    )) as WorkloadObject | undefined;
    if (!o) {
      out.ready = false;
      out.waiting ??= `${ref.kind.toLowerCase()} "${ref.name}" is missing`;
      continue;
    }
    const pods = await podsOfWorkload(c, o);
    out.pods.push(...pods);
    const views = pods.map(viewOf);
    out.restarts += views.reduce((n, v) => n + v.restarts, 0);
    const why = notRolledOut(o);
    if (!why) continue;
    out.ready = false;
    out.waiting ??= why;
    const bad = views.find((v) => v.problem);
    if (bad && !out.problem) {
      out.problem = `${why}: ${bad.problem}`;
      out.pod = bad.name;
      out.events = await podWarnings(c, bad.name);
    } else if (why.includes("ProgressDeadlineExceeded") && !out.problem) out.problem = why;
  }
  return out;
}
