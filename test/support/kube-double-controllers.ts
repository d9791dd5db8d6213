/**
 * The controllers of the Kubernetes API server DOUBLE: what kube-controller-manager, the scheduler
 * and the kubelet would do to the objects Slipway creates, reduced to the documented status
 * progression. No container runs: what a pod does is decided by its image, through `behaviour`.
 *
 * - Deployment / StatefulSet: keeps `spec.replicas` pods (default 1) of the current template,
 *   deletes pods of an older template, and reports replicas, updatedReplicas, readyReplicas,
 *   availableReplicas and observedGeneration in its status (what `kubectl rollout status` reads).
 * - Pod: Pending → scheduled → Running, Ready after `readyAfterMs`; or CrashLoopBackOff with a
 *   growing restartCount, ImagePullBackOff, OOMKilled, or Unschedulable — as the kubelet reports them.
 * - Job: one pod; Complete when it succeeds, Failed when it crashes (backoffLimit 0).
 * - Deleting an owner deletes the pods it owns (garbage collection).
 */
import { createHash, randomBytes } from "node:crypto";
import { ApiError, type DoubleStore, type Obj, type WatchEvent } from "./kube-double-store.js";

export interface PodBehaviour {
  /** Delay before the container is ready (default 30 ms). */
  readyAfterMs?: number;
  /** Never ready: the readiness probe keeps failing. */
  neverReady?: boolean;
  crash?: boolean;
  oom?: boolean;
  imagePull?: boolean;
  unschedulable?: boolean;
  /** The container's log lines (GET …/pods/NAME/log). */
  logs?: string[];
}

type Spec = Record<string, unknown> & {
  replicas?: number;
  template?: {
    metadata?: { labels?: Record<string, string> };
    spec?: { containers?: { name: string; image: string }[] };
  };
};
const POD = "/pods";
const OWNED = {
  "apps/deployments": "Deployment",
  "apps/statefulsets": "StatefulSet",
  "batch/jobs": "Job",
} as const;
type OwnerResource = keyof typeof OWNED;

export const templateHash = (template: unknown) =>
  createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);

export class DoubleControllers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly dirty = new Set<string>();
  private scheduled = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: DoubleStore,
    private readonly behaviour: (image: string) => PodBehaviour,
  ) {
    this.unsubscribe = store.subscribe((e) => this.onEvent(e));
  }

  close(): void {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch (e) {
        if (!(e instanceof ApiError)) throw e; // the object went away meanwhile
      }
    }, ms);
    this.timers.add(t);
  }

  private onEvent(e: WatchEvent): void {
    const m = e.object.metadata ?? {};
    if (e.resource in OWNED) {
      if (e.type === "DELETED") this.collect(m.namespace, m.uid);
      else this.mark(`${e.resource}|${m.namespace}|${m.name}`);
    } else if (e.resource === POD) {
      for (const ref of m.ownerReferences ?? []) {
        const res = Object.entries(OWNED).find(([, kind]) => kind === ref.kind)?.[0];
        if (res) this.mark(`${res}|${m.namespace}|${ref.name}`);
      }
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
        if (owner) this.reconcile(res, owner);
      }
    });
  }

  private podsOf(ns: string | undefined, uid: string | undefined): Obj[] {
    return this.store.list(POD, ns).filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === uid));
  }

  private collect(ns: string | undefined, uid: string | undefined): void {
    for (const p of this.podsOf(ns, uid)) this.store.delete(POD, ns, p.metadata?.name as string);
  }

  private reconcile(res: OwnerResource, owner: Obj): void {
    const m = owner.metadata ?? {};
    const spec = owner.spec as Spec;
    const hash = templateHash(spec.template);
    const pods = this.podsOf(m.namespace, m.uid);
    const current = pods.filter((p) => p.metadata?.labels?.["pod-template-hash"] === hash);
    for (const p of pods)
      if (!current.includes(p)) this.store.delete(POD, m.namespace, p.metadata?.name as string);
    const want = res === "batch/jobs" ? 1 : (spec.replicas ?? 1);
    if (res === "batch/jobs" && pods.length) {
      /* a Job runs its pod once */
    } else {
      const sorted = current.sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
      for (const p of sorted.slice(want).reverse())
        this.store.delete(POD, m.namespace, p.metadata?.name as string);
      for (let i = current.length; i < want; i++) this.startPod(res, owner, hash, i);
    }
    this.writeStatus(res, owner);
  }

  private startPod(res: OwnerResource, owner: Obj, hash: string, index: number): void {
    const m = owner.metadata ?? {};
    const spec = owner.spec as Spec;
    const name =
      res === "apps/statefulsets"
        ? `${m.name}-${index}`
        : `${m.name}-${hash.slice(0, 8)}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const podSpec = clonePodSpec(spec);
    const containers = podSpec.containers ?? [];
    const pod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: m.namespace,
        labels: { ...(spec.template?.metadata?.labels ?? {}), "pod-template-hash": hash },
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
      spec: podSpec,
      status: { phase: "Pending", conditions: [] },
    };
    this.store.put(POD, pod);
    const image = containers[0]?.image ?? "";
    const b = this.behaviour(image);
    this.later(10, () =>
      this.progress(
        name,
        m.namespace,
        res,
        b,
        containers.map((c) => c.name),
      ),
    );
  }

  private progress(
    name: string,
    ns: string | undefined,
    res: OwnerResource,
    b: PodBehaviour,
    names: string[],
  ): void {
    const pod = this.store.get(POD, ns, name);
    if (!pod) return;
    const at = new Date().toISOString();
    const status = (waiting?: { reason: string; message: string }, extra: Record<string, unknown> = {}) =>
      names.map((n) => ({
        name: n,
        ready: false,
        restartCount: 0,
        image: "",
        imageID: "",
        started: !waiting,
        state: waiting ? { waiting } : { running: { startedAt: at } },
        ...extra,
      }));
    if (b.unschedulable) {
      pod.status = {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/3 nodes are available: 3 Insufficient cpu.",
          },
        ],
      };
      this.store.put(POD, pod);
      return;
    }
    const scheduled = { type: "PodScheduled", status: "True" };
    if (b.imagePull) {
      pod.status = {
        phase: "Pending",
        conditions: [scheduled],
        containerStatuses: status({
          reason: "ImagePullBackOff",
          message: `Back-off pulling image "${(pod.spec as Spec & { containers: { image: string }[] }).containers[0]?.image}"`,
        }),
      };
      this.store.put(POD, pod);
      return;
    }
    if (b.crash || b.oom) return this.crashLoop(name, ns, res, b, names, 0, scheduled);
    pod.status = {
      phase: "Running",
      conditions: [scheduled, { type: "Ready", status: "False" }],
      containerStatuses: status(),
      startTime: at,
    };
    this.store.put(POD, pod);
    if (b.neverReady) return;
    this.later(b.readyAfterMs ?? 30, () => {
      const p = this.store.get(POD, ns, name);
      if (!p) return;
      if (res === "batch/jobs") {
        p.status = {
          phase: "Succeeded",
          conditions: [scheduled],
          containerStatuses: status(undefined, {
            state: { terminated: { exitCode: 0, reason: "Completed" } },
          }),
        };
      } else {
        p.status = {
          phase: "Running",
          conditions: [scheduled, { type: "Ready", status: "True" }],
          containerStatuses: status(undefined, { ready: true }),
          startTime: at,
        };
      }
      this.store.put(POD, p);
    });
  }

  private crashLoop(
    name: string,
    ns: string | undefined,
    res: OwnerResource,
    b: PodBehaviour,
    names: string[],
    restarts: number,
    scheduled: object,
  ): void {
    const p = this.store.get(POD, ns, name);
    if (!p) return;
    const reason = b.oom ? "OOMKilled" : "Error";
    const exitCode = b.oom ? 137 : 1;
    const terminated = { exitCode, reason, finishedAt: new Date().toISOString() };
    p.status =
      res === "batch/jobs"
        ? {
            phase: "Failed",
            conditions: [scheduled],
            containerStatuses: names.map((n) => ({
              name: n,
              ready: false,
              restartCount: 0,
              image: "",
              imageID: "",
              state: { terminated },
            })),
          }
        : {
            phase: "Running",
            conditions: [scheduled, { type: "Ready", status: "False" }],
            containerStatuses: names.map((n) => ({
              name: n,
              ready: false,
              restartCount: restarts,
              image: "",
              imageID: "",
              state: {
                waiting: { reason: "CrashLoopBackOff", message: `back-off restarting failed container ${n}` },
              },
              lastState: { terminated },
            })),
          };
    this.store.put(POD, p);
    if (res !== "batch/jobs")
      this.later(200, () => this.crashLoop(name, ns, res, b, names, restarts + 1, scheduled));
  }

  private writeStatus(res: OwnerResource, owner: Obj): void {
    const m = owner.metadata ?? {};
    const hash = templateHash((owner.spec as Spec).template);
    const pods = this.podsOf(m.namespace, m.uid);
    const ready = pods.filter((p) =>
      (p.status as { conditions?: { type: string; status: string }[] })?.conditions?.some(
        (c) => c.type === "Ready" && c.status === "True",
      ),
    );
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
      status = {
        observedGeneration: m.generation,
        replicas: pods.length,
        updatedReplicas: pods.filter((p) => p.metadata?.labels?.["pod-template-hash"] === hash).length,
        readyReplicas: ready.length,
        availableReplicas: ready.length,
        ...(res === "apps/statefulsets"
          ? { currentReplicas: pods.length, currentRevision: hash, updateRevision: hash }
          : {}),
      };
    }
    if (JSON.stringify(owner.status) === JSON.stringify(status)) return;
    this.store.put(res, { ...owner, status });
  }
}

function clonePodSpec(
  spec: Spec,
): { containers?: { name: string; image: string }[] } & Record<string, unknown> {
  return structuredClone(spec.template?.spec ?? {}) as { containers?: { name: string; image: string }[] };
}
