/**
 * The kubelet and scheduler of the Kubernetes API server DOUBLE (see kube-apiserver-double.ts), for
 * one pod at a time: the documented status progression (Pending → scheduled → Running → Ready; or
 * CrashLoopBackOff with a growing restartCount, ImagePullBackOff, OOMKilled, Unschedulable), the
 * Events the kubelet and scheduler record on the way, and a per-pod log store.
 *
 * No container runs. What a pod does is its `PodBehaviour`, chosen per image or env by the test.
 * With `shell: true` the double runs the commands a container would run (a Job's command, `exec`)
 * with the host's /bin/sh and the container's environment, so exit codes and output are real
 * command results; nothing else of the image is (no filesystem, no network, no entrypoint).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { DoubleStore, Obj } from "./kube-double-store.js";

export interface PodBehaviour {
  /** Delay before the container is ready (default 30 ms). */
  readyAfterMs?: number;
  /** Never ready: the readiness probe keeps failing (Warning Unhealthy events). */
  neverReady?: boolean;
  crash?: boolean;
  oom?: boolean;
  imagePull?: boolean;
  unschedulable?: boolean;
  /** The container's log lines (default: `started IMAGE (double)`). */
  logs?: string[];
  /** Run Job commands and `exec` with the host's /bin/sh and the container's env. */
  shell?: boolean;
  /** CPU (cores) and memory (bytes) the metrics API reports for the pod (default 0.005, 20 MiB). */
  usage?: { cpu: number; memory: number };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
}
export type PodSpec = { containers?: Container[] } & Record<string, unknown>;
export interface LogLine {
  time: string;
  line: string;
}

const POD = "/pods";
const EVENTS = "/events";

export class DoublePods {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly logStore = new Map<string, LogLine[]>();
  private readonly logListeners = new Map<string, Set<(l: LogLine | undefined) => void>>();

  constructor(
    private readonly store: DoubleStore,
    readonly behaviourOf: (c: Container, ns: string | undefined, job?: boolean) => PodBehaviour,
  ) {}

  close(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch (e) {
        if (!(e as { code?: number }).code) throw e; // the object went away meanwhile
      }
    }, ms);
    this.timers.add(t);
  }

  // ---- log store ----

  logs(ns: string | undefined, pod: string): LogLine[] {
    return this.logStore.get(`${ns}/${pod}`) ?? [];
  }
  appendLog(ns: string | undefined, pod: string, line: string): void {
    const key = `${ns}/${pod}`;
    const l = { time: new Date().toISOString(), line };
    this.logStore.set(key, [...(this.logStore.get(key) ?? []), l]);
    for (const fn of this.logListeners.get(key) ?? []) fn(l);
  }
  /** Follow a pod's log: `fn(undefined)` when the pod is deleted. */
  followLog(ns: string | undefined, pod: string, fn: (l: LogLine | undefined) => void): () => void {
    const key = `${ns}/${pod}`;
    const set = this.logListeners.get(key) ?? new Set();
    set.add(fn);
    this.logListeners.set(key, set);
    return () => set.delete(fn);
  }
  podDeleted(ns: string | undefined, pod: string): void {
    for (const fn of this.logListeners.get(`${ns}/${pod}`) ?? []) fn(undefined);
    this.logListeners.delete(`${ns}/${pod}`);
  }

  // ---- events ----

  /** Record an Event about an object, as the kubelet / controllers do (repeats bump `count`). */
  event(obj: Obj, type: "Normal" | "Warning", reason: string, message: string, component = "kubelet"): void {
    const m = obj.metadata ?? {};
    const now = new Date().toISOString();
    const same = this.store
      .list(EVENTS, m.namespace)
      .find(
        (e) =>
          (e.involvedObject as { uid?: string }).uid === m.uid &&
          e.reason === reason &&
          e.message === message,
      );
    if (same) {
      this.store.put(EVENTS, { ...same, count: ((same.count as number) ?? 1) + 1, lastTimestamp: now });
      return;
    }
    this.store.put(EVENTS, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${m.name}.${randomBytes(8).toString("hex")}`, namespace: m.namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component },
    });
  }

  // ---- the kubelet ----

  /** A new pod: scheduled (or not), then its container's behaviour. */
  started(pod: Obj, job: boolean): void {
    const spec = pod.spec as PodSpec;
    const c = spec.containers?.[0] ?? { name: "main", image: "" };
    const b = this.behaviourOf(c, pod.metadata?.namespace, job);
    this.later(10, () => this.progress(pod, job, b, c));
  }

  private current(pod: Obj): Obj | undefined {
    return this.store.get(POD, pod.metadata?.namespace, pod.metadata?.name as string);
  }

  private write(pod: Obj, status: Record<string, unknown>): Obj | undefined {
    const now = this.current(pod);
    if (!now) return undefined;
    return this.store.put(POD, { ...now, status });
  }

  private progress(pod0: Obj, job: boolean, b: PodBehaviour, c: Container): void {
    const pod = this.current(pod0);
    if (!pod) return;
    const at = new Date().toISOString();
    const names = ((pod.spec as PodSpec).containers ?? [c]).map((x) => x.name);
    if (b.unschedulable) {
      const message = "0/3 nodes are available: 3 Insufficient cpu.";
      this.write(pod, {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }],
      });
      this.event(pod, "Warning", "FailedScheduling", message, "default-scheduler");
      return;
    }
    this.event(
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${pod.metadata?.namespace}/${pod.metadata?.name} to double-node-1`,
      "default-scheduler",
    );
    const scheduled = { type: "PodScheduled", status: "True" };
    const statuses = (state: object, extra: Record<string, unknown> = {}) =>
      names.map((n) => ({
        name: n,
        ready: false,
        restartCount: 0,
        image: c.image,
        imageID: "",
        state,
        ...extra,
      }));
    if (b.imagePull) {
      this.event(pod, "Normal", "Pulling", `Pulling image "${c.image}"`);
      this.event(pod, "Warning", "Failed", `Failed to pull image "${c.image}": not found (double)`);
      this.event(pod, "Warning", "Failed", "Error: ImagePullBackOff");
      this.write(pod, {
        phase: "Pending",
        conditions: [scheduled],
        containerStatuses: statuses({
          waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.image}"` },
        }),
      });
      return;
    }
    this.event(pod, "Normal", "Pulled", `Container image "${c.image}" already present on machine`);
    this.event(pod, "Normal", "Created", `Created container ${c.name}`);
    this.event(pod, "Normal", "Started", `Started container ${c.name}`);
    if (job && b.shell) return this.runJobPod(pod, c, names, scheduled);
    for (const l of b.logs ?? [
      b.crash || b.oom ? "Error: the application crashed (double)" : `started ${c.image} (double)`,
    ])
      this.appendLog(pod.metadata?.namespace, pod.metadata?.name as string, l);
    if (b.crash || b.oom) return this.crashLoop(pod, job, b, names, 0, scheduled);
    this.write(pod, {
      phase: "Running",
      conditions: [scheduled, { type: "Ready", status: "False" }],
      containerStatuses: statuses({ running: { startedAt: at } }, { started: true }),
      startTime: at,
      podIP: "127.0.0.1",
    });
    if (b.neverReady) {
      this.event(
        pod,
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
      );
      return;
    }
    this.later(b.readyAfterMs ?? 30, () => {
      const terminated = { exitCode: 0, reason: "Completed", finishedAt: new Date().toISOString() };
      this.write(
        pod,
        job
          ? { phase: "Succeeded", conditions: [scheduled], containerStatuses: statuses({ terminated }) }
          : {
              phase: "Running",
              conditions: [scheduled, { type: "Ready", status: "True" }],
              containerStatuses: statuses({ running: { startedAt: at } }, { ready: true, started: true }),
              startTime: at,
              podIP: "127.0.0.1",
            },
      );
    });
  }

  private crashLoop(
    pod: Obj,
    job: boolean,
    b: PodBehaviour,
    names: string[],
    restarts: number,
    scheduled: object,
  ): void {
    if (!this.current(pod)) return;
    const reason = b.oom ? "OOMKilled" : "Error";
    const terminated = { exitCode: b.oom ? 137 : 1, reason, finishedAt: new Date().toISOString() };
    const status = (n: string) =>
      job
        ? { name: n, ready: false, restartCount: 0, image: "", imageID: "", state: { terminated } }
        : {
            name: n,
            ready: false,
            restartCount: restarts,
            image: "",
            imageID: "",
            state: {
              waiting: { reason: "CrashLoopBackOff", message: `back-off restarting failed container ${n}` },
            },
            lastState: { terminated },
          };
    this.write(pod, {
      phase: job ? "Failed" : "Running",
      conditions: [scheduled, ...(job ? [] : [{ type: "Ready", status: "False" }])],
      containerStatuses: names.map(status),
    });
    if (job) return;
    this.event(
      pod,
      "Warning",
      "BackOff",
      `Back-off restarting failed container ${names[0]} in pod ${pod.metadata?.name}`,
    );
    this.later(200, () => this.crashLoop(pod, job, b, names, restarts + 1, scheduled));
  }

  /** A Job's container with `shell`: its command through the host's sh, with the container's env. */
  private runJobPod(pod: Obj, c: Container, names: string[], scheduled: object): void {
    const at = new Date().toISOString();
    this.write(pod, {
      phase: "Running",
      conditions: [scheduled],
      containerStatuses: names.map((n) => ({
        name: n,
        ready: true,
        restartCount: 0,
        image: c.image,
        imageID: "",
        state: { running: { startedAt: at } },
      })),
      startTime: at,
    });
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    void this.run(pod, c, argv, (chunk) => {
      for (const l of chunk.split("\n"))
        if (l) this.appendLog(pod.metadata?.namespace, pod.metadata?.name as string, l);
    }).then((code) => {
      const terminated = {
        exitCode: code,
        reason: code === 0 ? "Completed" : "Error",
        finishedAt: new Date().toISOString(),
      };
      this.write(pod, {
        phase: code === 0 ? "Succeeded" : "Failed",
        conditions: [scheduled],
        containerStatuses: names.map((n) => ({
          name: n,
          ready: false,
          restartCount: 0,
          image: c.image,
          imageID: "",
          state: { terminated },
        })),
        startTime: at,
      });
    });
  }

  /** The container's env as the kubelet resolves it (values, and secretKeyRef from stored Secrets). */
  envOf(ns: string | undefined, c: Container): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const s = this.store.get("/secrets", ns, ref.name) as { data?: Record<string, string> } | undefined;
        const v = s?.data?.[ref.key];
        if (v !== undefined) out[e.name] = Buffer.from(v, "base64").toString("utf8");
      } else if (e.value !== undefined) out[e.name] = e.value;
    }
    return out;
  }

  /** Run argv on the host (see the file comment); output goes to `onOutput`, resolves to the exit code. */
  run(pod: Obj, c: Container, argv: string[], onOutput: (s: string, stream: 1 | 2) => void): Promise<number> {
    const [cmd, ...args] = argv.length ? argv : ["/bin/sh"];
    return new Promise((resolve) => {
      const child = spawn(cmd as string, args, {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOSTNAME: String(pod.metadata?.name),
          ...this.envOf(pod.metadata?.namespace, c),
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.stdout.on("data", (d: Buffer) => onOutput(d.toString("utf8"), 1));
      child.stderr.on("data", (d: Buffer) => onOutput(d.toString("utf8"), 2));
      child.on("error", (e) => {
        onOutput(`${e.message}\n`, 2);
        resolve(127);
      });
      child.on("close", (code) => resolve(code ?? 137));
    });
  }
}
