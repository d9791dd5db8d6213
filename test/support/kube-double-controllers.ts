/**
 * The controllers of the Kubernetes API server DOUBLE: what kube-controller-manager would do to
 * the workloads Slipway and kubectl create, reduced to the documented behaviour (the pods
 * themselves are kube-double-pods.ts's).
 *
 * - Deployment → ReplicaSets → Pods, as the deployment controller does: one ReplicaSet per pod
 *   template (`<name>-<pod-template-hash>`), the annotation `deployment.kubernetes.io/revision` on
 *   the ReplicaSets and the Deployment (a template that matches an older ReplicaSet — `kubectl
 *   rollout undo` — re-uses it under the next revision number); a rolling update scales the new
 *   ReplicaSet up and the old ones down once the new one is available (maxUnavailable 0;
 *   `Recreate` scales the old ones down first). Status: observedGeneration, replicas,
 *   updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas and the conditions
 *   Available (MinimumReplicasAvailable) and Progressing (ReplicaSetUpdated, NewReplicaSetAvailable,
 *   or ProgressDeadlineExceeded after `progressDeadlineSeconds`) — what `kubectl rollout status` reads.
 * - ReplicaSet / StatefulSet: keep `spec.replicas` pods of the template.
 * - Job: one pod; Complete when it succeeds, Failed when it fails (backoffLimit 0).
 * - Garbage collection: deleting an owner deletes what it owns.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DoubleStore, Obj, WatchEvent } from "./kube-double-store.js";
import type { DoublePods } from "./kube-double-pods.js";

type Template = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
};
type Spec = Record<string, unknown> & {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  template?: Template;
  strategy?: { type?: string };
  progressDeadlineSeconds?: number;
};
type Status = Record<string, unknown> & {
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
};
const POD = "/pods";
const RS = "apps/replicasets";
const OWNED = {
  "apps/deployments": "Deployment",
  "apps/replicasets": "ReplicaSet",
  "apps/statefulsets": "StatefulSet",
  "batch/jobs": "Job",
} as const;
type OwnerResource = keyof typeof OWNED;
const REVISION = "deployment.kubernetes.io/revision";

/** JSON with sorted keys, without nulls and empty maps/lists (what defaulting makes equal). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = canonical((v as Record<string, unknown>)[k]);
    if (x === null || x === undefined) continue;
    if (typeof x === "object" && Object.keys(x).length === 0) continue;
    out[k] = x;
  }
  return out;
}

/** The pod-template-hash of a template (without the hash label itself). */
export const templateHash = (template: unknown) => {
  const t = structuredClone(template ?? {}) as Template;
  delete t.metadata?.labels?.["pod-template-hash"];
  return createHash("sha256")
    .update(JSON.stringify(canonical(t)))
    .digest("hex")
    .slice(0, 10);
};
const isReady = (p: Obj) =>
  (p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
    (c) => c.type === "Ready" && c.status === "True",
  ) ?? false;
const nameOf = (o: Obj) => o.metadata?.name as string;

export class DoubleControllers {
  private readonly dirty = new Set<string>();
  private scheduled = false;
  private readonly unsubscribe: () => void;
  /** When each Deployment's current rollout started (for progressDeadlineSeconds). */
  private readonly progressSince = new Map<string, { hash: string; at: number }>();

  constructor(
    private readonly store: DoubleStore,
    private readonly pods: DoublePods,
  ) {
    this.unsubscribe = store.subscribe((e) => this.onEvent(e));
  }

  close(): void {
    this.unsubscribe();
    this.pods.close();
  }

  private onEvent(e: WatchEvent): void {
    const m = e.object.metadata ?? {};
    if (e.type === "DELETED" && (e.resource in OWNED || e.resource === POD)) {
      if (e.resource === POD) this.pods.podDeleted(m.namespace, m.name as string);
      else this.collect(m.namespace, m.uid);
    }
    if (e.resource in OWNED && e.type !== "DELETED") this.mark(`${e.resource}|${m.namespace}|${m.name}`);
    if (e.resource === POD || e.resource === RS)
      for (const ref of m.ownerReferences ?? []) {
        const res = Object.entries(OWNED).find(([, kind]) => kind === ref.kind)?.[0];
        if (res) this.mark(`${res}|${m.namespace}|${ref.name}`);
      }
  }

  /** Reconcile on the next turn, once per object, so writes never recurse into the store. */
  private mark(key: string): void {
    this.dirty.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const keys = [...this.dirty];
      this.dirty.clear();
      for (const k of keys) {
        const [res, ns, name] = k.split("|") as [OwnerResource, string, string];
        const owner = this.store.get(res, ns, name);
        if (!owner || owner.metadata?.deletionTimestamp) continue;
        try {
          this.reconcile(res, owner);
        } catch (e) {
          if (!(e as { code?: number }).code) throw e; // a concurrent write: the next event retries
        }
      }
    });
  }

  private owned(resource: string, ns: string | undefined, uid: string | undefined): Obj[] {
    return this.store
      .list(resource, ns)
      .filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === uid));
  }

  private collect(ns: string | undefined, uid: string | undefined): void {
    for (const res of [POD, RS])
      for (const o of this.owned(res, ns, uid)) this.store.delete(res, ns, nameOf(o));
  }

  private reconcile(res: OwnerResource, owner: Obj): void {
    if (res === "apps/deployments") return this.deployment(owner);
    const spec = owner.spec as Spec;
    const want = res === "batch/jobs" ? 1 : (spec.replicas ?? 1);
    const pods = this.owned(POD, owner.metadata?.namespace, owner.metadata?.uid);
    if (res === "apps/statefulsets") {
      const hash = templateHash(spec.template);
      for (const p of pods)
        if (p.metadata?.labels?.["controller-revision-hash"] !== hash)
          this.store.delete(POD, p.metadata?.namespace, nameOf(p));
    }
    if (res !== "batch/jobs" || !pods.length) this.scale(res, owner, want);
    this.writeStatus(res, owner);
  }

  /** Keep `want` pods of the owner's template: delete the newest extra ones, create the missing. */
  private scale(res: OwnerResource, owner: Obj, want: number): void {
    const m = owner.metadata ?? {};
    const current = this.owned(POD, m.namespace, m.uid).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
    for (const p of current.slice(want).reverse()) this.store.delete(POD, m.namespace, nameOf(p));
    const have = new Set(current.map(nameOf));
    for (let i = 0, made = current.length; made < want; i++) {
      const name =
        res === "apps/statefulsets"
          ? `${m.name}-${i}`
          : `${m.name}-${randomBytes(3).toString("hex").slice(0, 5)}`;
      if (have.has(name)) continue;
      this.startPod(res, owner, name);
      made++;
    }
  }

  private startPod(res: OwnerResource, owner: Obj, name: string): void {
    const m = owner.metadata ?? {};
    const spec = owner.spec as Spec;
    const extra: Record<string, string> =
      res === "apps/statefulsets"
        ? {
            "controller-revision-hash": templateHash(spec.template),
            "statefulset.kubernetes.io/pod-name": name,
          }
        : {};
    if (res === "batch/jobs")
      Object.assign(extra, {
        "job-name": m.name as string,
        "batch.kubernetes.io/job-name": m.name as string,
      });
    const pod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: m.namespace,
        labels: { ...(spec.template?.metadata?.labels ?? {}), ...extra },
        annotations: spec.template?.metadata?.annotations,
        ownerReferences: [
          {
            apiVersion: owner.apiVersion ?? "",
            kind: OWNED[res],
            name: m.name as string,
            uid: m.uid as string,
            controller: true,
          },
        ],
      },
      spec: structuredClone(spec.template?.spec ?? {}),
      status: { phase: "Pending", conditions: [] },
    };
    const saved = this.store.put(POD, pod);
    if (res === "apps/replicasets" || res === "batch/jobs")
      this.pods.event(
        owner,
        "Normal",
        "SuccessfulCreate",
        `Created pod: ${name}`,
        `${OWNED[res].toLowerCase()}-controller`,
      );
    this.pods.started(saved, res === "batch/jobs");
  }

  // ---- Deployments ----

  private deployment(d: Obj): void {
    const m = d.metadata ?? {};
    const spec = d.spec as Spec;
    const want = spec.replicas ?? 1;
    const hash = templateHash(spec.template);
    const sets = this.owned(RS, m.namespace, m.uid);
    const revisionOf = (rs: Obj) => Number(rs.metadata?.annotations?.[REVISION] ?? 0);
    const maxRevision = Math.max(0, ...sets.map(revisionOf));
    let current = sets.find((rs) => rs.metadata?.labels?.["pod-template-hash"] === hash);
    if (!current) current = this.newReplicaSet(d, hash, maxRevision + 1);
    else if (revisionOf(current) < maxRevision) {
      // A template seen before (rollout undo): the old ReplicaSet becomes the newest revision.
      current = this.store.put(RS, {
        ...current,
        metadata: {
          ...current.metadata,
          annotations: { ...current.metadata?.annotations, [REVISION]: String(maxRevision + 1) },
        },
      });
    }
    const old = sets.filter((rs) => nameOf(rs) !== nameOf(current));
    const newAvailable = ((current.status as Status | undefined)?.availableReplicas ?? 0) >= want;
    const recreate = spec.strategy?.type === "Recreate";
    const oldPods = old.reduce((n, rs) => n + ((rs.status as Status | undefined)?.replicas ?? 0), 0);
    for (const rs of old)
      if ((recreate || newAvailable) && ((rs.spec as Spec).replicas ?? 0) !== 0) this.setReplicas(d, rs, 0);
    if (!recreate || oldPods === 0) this.setReplicas(d, current, want);
    const revision = current.metadata?.annotations?.[REVISION] as string;
    if (m.annotations?.[REVISION] !== revision) {
      d = this.store.put("apps/deployments", {
        ...d,
        metadata: { ...m, annotations: { ...m.annotations, [REVISION]: revision } },
      });
    }
    this.deploymentStatus(d, current, old);
  }

  private newReplicaSet(d: Obj, hash: string, revision: number): Obj {
    const m = d.metadata ?? {};
    const spec = d.spec as Spec;
    const template = structuredClone(spec.template ?? {});
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, "pod-template-hash": hash },
    };
    const rs = this.store.put(RS, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: `${m.name}-${hash.slice(0, 10)}`,
        namespace: m.namespace,
        labels: { ...template.metadata.labels },
        annotations: {
          [REVISION]: String(revision),
          "deployment.kubernetes.io/desired-replicas": String(spec.replicas ?? 1),
        },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: m.name as string,
            uid: m.uid as string,
            controller: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        selector: { matchLabels: { ...spec.selector?.matchLabels, "pod-template-hash": hash } },
        template,
      },
    });
    return rs;
  }

  private setReplicas(d: Obj, rs: Obj, n: number): void {
    const from = (rs.spec as Spec).replicas ?? 0;
    if (from === n) return;
    this.store.put(RS, { ...rs, spec: { ...(rs.spec as Spec), replicas: n } });
    this.pods.event(
      d,
      "Normal",
      "ScalingReplicaSet",
      `Scaled ${n > from ? "up" : "down"} replica set ${nameOf(rs)} from ${from} to ${n}`,
      "deployment-controller",
    );
  }

  private deploymentStatus(d: Obj, current: Obj, old: Obj[]): void {
    const m = d.metadata ?? {};
    const spec = d.spec as Spec;
    const want = spec.replicas ?? 1;
    const st = (rs: Obj) => (rs.status as Status | undefined) ?? {};
    const all = [current, ...old];
    const replicas = all.reduce((n, rs) => n + (st(rs).replicas ?? 0), 0);
    const ready = all.reduce((n, rs) => n + (st(rs).readyReplicas ?? 0), 0);
    const updated = st(current).replicas ?? 0;
    const complete = updated === want && replicas === want && ready >= want;
    const hash = current.metadata?.labels?.["pod-template-hash"] as string;
    const since = this.progressSince.get(`${m.namespace}/${m.name}`);
    if (!since || since.hash !== hash)
      this.progressSince.set(`${m.namespace}/${m.name}`, { hash, at: Date.now() });
    const deadline = (spec.progressDeadlineSeconds ?? 600) * 1000;
    const expired = !complete && Date.now() - (since?.hash === hash ? since.at : Date.now()) > deadline;
    const old0 =
      (
        d.status as
          { conditions?: { type: string; lastTransitionTime?: string; status: string }[] } | undefined
      )?.conditions ?? [];
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = old0.find((c) => c.type === type);
      const now = new Date().toISOString();
      return {
        type,
        status,
        reason,
        message,
        lastUpdateTime: now,
        lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      };
    };
    const status = {
      observedGeneration: m.generation,
      replicas,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(replicas - ready > 0 ? { unavailableReplicas: replicas - ready } : {}),
      conditions: [
        ready >= want
          ? cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
          : cond(
              "Available",
              "False",
              "MinimumReplicasUnavailable",
              "Deployment does not have minimum availability.",
            ),
        complete
          ? cond(
              "Progressing",
              "True",
              "NewReplicaSetAvailable",
              `ReplicaSet "${nameOf(current)}" has successfully progressed.`,
            )
          : expired
            ? cond(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                `ReplicaSet "${nameOf(current)}" has timed out progressing.`,
              )
            : cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                `ReplicaSet "${nameOf(current)}" is progressing.`,
              ),
      ],
    };
    const strip = (s: unknown) =>
      JSON.stringify(s, (k, v) => (k === "lastUpdateTime" || k === "lastTransitionTime" ? undefined : v));
    if (strip(d.status) === strip(status)) return;
    this.store.put("apps/deployments", { ...d, status });
  }

  private writeStatus(res: OwnerResource, owner: Obj): void {
    const m = owner.metadata ?? {};
    const pods = this.owned(POD, m.namespace, m.uid);
    const ready = pods.filter(isReady);
    let status: Record<string, unknown>;
    if (res === "batch/jobs") {
      const phase = (pods[0]?.status as { phase?: string } | undefined)?.phase;
      status =
        phase === "Succeeded"
          ? { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] }
          : phase === "Failed"
            ? { failed: 1, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] }
            : { active: pods.length };
    } else {
      const hash = templateHash((owner.spec as Spec).template);
      status = {
        observedGeneration: m.generation,
        replicas: pods.length,
        readyReplicas: ready.length,
        availableReplicas: ready.length,
        ...(res === "apps/replicasets"
          ? { fullyLabeledReplicas: pods.length }
          : {
              currentReplicas: pods.length,
              updatedReplicas: pods.length,
              currentRevision: hash,
              updateRevision: hash,
            }),
      };
    }
    if (JSON.stringify(owner.status) === JSON.stringify(status)) return;
    this.store.put(res, { ...owner, status });
  }
}
