/**
 * The Kubernetes driver: the engine's slots on a cluster. One Deployment per revision (StatefulSet
 * when stateful), created by server-side apply under the field manager "slipway"; an instance is
 * the i-th pod of its revision's workload. Traffic is the Service selector (traffic.ts); the health
 * gate waits on pod readiness (health.ts). It talks to the cluster only through client-node.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Deployment,
} from "@kubernetes/client-node";
import { DriverError, SlipwayError, errorMessage } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import type { KubernetesTarget } from "../../spec/schema-kubernetes.js";
import type {
  Artifact,
  Driver,
  DriverCapabilities,
  Instance,
  InstanceRequest,
  InstanceStats,
  LogLine,
  LogOptions,
  PrepareOptions,
  StopOptions,
} from "../driver.js";
import { ChartReleases } from "./chart.js";
import { imageArtifact } from "./digest.js";
import { connect, orUndefined, type Cluster } from "./cluster.js";
import { names } from "./manifests/names.js";
import { namespaceFor } from "./manifests/objects.js";
import { releaseOf, type ServiceRelease } from "./manifests/release.js";
import { renderRelease } from "./manifests/render.js";
import { execInPod, parseCpu, parseMemory, podLogs, podUsage, podWarnings } from "./observe.js";
import { viewOf } from "./pods.js";
import { registrySecret } from "./registry-auth.js";
import { runJob } from "./run-job.js";
import { ServiceSelectorRouter } from "./traffic.js";
import { instanceId, listWorkloads, podsOf, routedRevision, routeOf, type Workload } from "./workloads.js";

const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export interface KubernetesDriverOptions {
  target: KubernetesTarget;
  logger: Logger;
  /** Injected in tests; default: connect(target) (which checks context and cluster first). */
  connect?: (target: KubernetesTarget) => Cluster;
  /** How long the registry may take to answer a digest lookup (default 5 s). */
  digestTimeoutMs?: number;
}

export class KubernetesDriver implements Driver {
  readonly name = "kubernetes";
  readonly capabilities: DriverCapabilities = {
    trafficSplit: true,
    gpus: true,
    exec: true,
    stats: true,
    adopt: true,
  };
  private conn?: Cluster;
  /** One apply per revision however many replicas start at once. */
  private readonly applying = new Map<string, Promise<void>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private namespaceReady?: Promise<void>;
  /** `chart:` services: rendered by helm, applied and tracked by Slipway (chart.ts). */
  private readonly charts: ChartReleases;

  constructor(private readonly opts: KubernetesDriverOptions) {
    this.charts = new ChartReleases(
      () => this.cluster(),
      (c, project) => this.ensureNamespace(c, project),
      opts.logger,
    );
  }

  /** The cluster, after the kubeconfig check (throws Refused before anything is sent). */
  cluster(): Cluster {
    this.conn ??= (this.opts.connect ?? connect)(this.opts.target);
    return this.conn;
  }

  router(): ServiceSelectorRouter {
    return new ServiceSelectorRouter(() => this.cluster());
  }

  async prepare(
    project: string,
    env: string,
    service: ResolvedService,
    revision: number,
    opts?: PrepareOptions,
  ): Promise<Artifact> {
    this.cluster();
    if (service.chart) return this.charts.prepare(project, env, service, revision, opts);
    if (!service.image)
      throw new DriverError(
        this.name,
        `${service.name} has no image: on Kubernetes, build and push the image in CI and give its name as "image"`,
      );
    const ctx = { target: this.opts.target, logger: this.opts.logger, timeoutMs: this.opts.digestTimeoutMs };
    return imageArtifact(ctx, service.name, service.image, revision, opts);
  }

  private release(req: InstanceRequest): ServiceRelease {
    const spec = { project: req.project, env: req.env, version: req.version, target: this.opts.target };
    return { ...releaseOf(spec, req.service, req.revision, req.env_vars), image: req.artifact.ref };
  }

  /** The namespace, created when missing, and the target's registry pull Secret (once per driver). */
  private async ensureNamespace(c: Cluster, project: string): Promise<void> {
    this.namespaceReady ??= (async () => {
      const ns = await orUndefined(c.core.readNamespace({ name: c.namespace }));
      if (!ns) await c.apply(namespaceFor(c.namespace, project));
      const pull = registrySecret(project, c.namespace, this.opts.target, "apply");
      if (pull) await c.apply(pull);
    })().catch((e: unknown) => {
      this.namespaceReady = undefined;
      throw e;
    });
    return this.namespaceReady;
  }

  /** Apply a revision's objects once; replicas are set only when the workload is new or unscaled. */
  private async applyRelease(req: InstanceRequest): Promise<void> {
    const c = this.cluster();
    await this.ensureNamespace(c, req.project);
    const r = this.release(req);
    const svc = req.service;
    const workloadName = svc.stateful ? names.statefulSet(svc.name) : names.workload(svc.name, req.revision);
    const read: Promise<unknown> = svc.stateful
      ? c.apps.readNamespacedStatefulSet({ name: workloadName, namespace: c.namespace })
      : c.apps.readNamespacedDeployment({ name: workloadName, namespace: c.namespace });
    const existing = (await orUndefined(read)) as V1Deployment | undefined;
    // With an autoscaler the HPA owns the count: set it only when the Deployment is created.
    const replicas = svc.autoscale ? (existing ? undefined : svc.autoscale.min) : svc.replicas;
    const routed = await routedRevision(c, svc.name);
    const out = renderRelease(r, {
      replicas,
      traffic: { revision: routed ?? req.revision },
    });
    for (const n of out.notes) this.opts.logger.warn(n);
    for (const obj of out.workload) await c.apply(obj);
    // The Service and Ingress exist from the first revision on; later ones move only by setRoute().
    for (const obj of out.routing) if (routed === undefined || obj.kind === "Ingress") await c.apply(obj);
  }

  async start(req: InstanceRequest): Promise<Instance> {
    if (req.service.chart) return this.charts.start(req);
    const key = `${req.project}/${req.env}/${req.service.name}/${req.revision}`;
    let p = this.applying.get(key);
    if (!p) {
      p = this.applyRelease(req).finally(() => setTimeout(() => this.applying.delete(key), 1000).unref());
      this.applying.set(key, p);
    }
    await p;
    return {
      id: instanceId(req.service.name, req.revision, req.index),
      project: req.project,
      env: req.env,
      service: req.service.name,
      revision: req.revision,
      version: req.version,
      slot: req.slot,
      index: req.index,
      state: "starting",
      ...(req.service.port !== undefined
        ? {
            host: `${names.service(req.service.name)}.${this.opts.target.namespace}.svc`,
            port: req.service.port,
          }
        : {}),
      startedAt: new Date().toISOString(),
      restarts: 0,
      meta: {
        namespace: this.opts.target.namespace,
        stateful: req.service.stateful,
        autoscaled: req.service.autoscale !== undefined,
      },
    };
  }

  async inspect(project: string, env: string): Promise<Instance[]> {
    const c = this.cluster();
    try {
      const workloads = await listWorkloads(c, project, env);
      const out: Instance[] = [];
      for (const w of workloads) out.push(...(await this.instancesOf(c, project, env, w)));
      return [...out, ...(await this.charts.inspect(project, env))];
    } catch (e) {
      // The cluster did not answer (or refused): the driver's error, not an internal one.
      if (e instanceof SlipwayError) throw e;
      throw new DriverError(
        this.name,
        `cannot read namespace ${c.namespace} (context ${c.context}): ${errorMessage(e)}`,
      );
    }
  }

  private async instancesOf(c: Cluster, project: string, env: string, w: Workload): Promise<Instance[]> {
    const pods = await podsOf(c, project, env, w.service, w.revision);
    const { revision: routed, port } = await routeOf(c, w.service);
    const count = Math.max(w.replicas, 0);
    return Array.from({ length: count }, (_, index): Instance => {
      const pod = pods[index];
      const v = pod ? viewOf(pod) : undefined;
      return {
        id: instanceId(w.service, w.revision, index),
        project,
        env,
        service: w.service,
        revision: w.revision,
        version: w.version,
        slot: routed === undefined || routed === w.revision ? "stable" : "candidate",
        index,
        state: v?.state ?? "starting",
        ...(port !== undefined ? { host: `${names.service(w.service)}.${c.namespace}.svc`, port } : {}),
        startedAt: v?.startedAt ?? w.createdAt,
        restarts: v?.restarts ?? 0,
        meta: {
          namespace: c.namespace,
          stateful: w.kind === "StatefulSet",
          ...(v ? { pod: v.name, ready: v.ready } : {}),
          ...(v?.problem ? { problem: v.problem } : {}),
        },
      };
    });
  }

  async live(inst: Instance): Promise<Instance | undefined> {
    if (inst.meta?.chart === true) return this.charts.live(inst);
    const c = this.cluster();
    const pods = await podsOf(c, inst.project, inst.env, inst.service, inst.revision);
    const pod = pods[inst.index];
    if (!pod) return { ...inst, state: "starting", meta: { ...inst.meta, ready: false } };
    const v = viewOf(pod);
    // What the kubelet and scheduler said about a pod that cannot become ready, with the reason.
    const events = v.problem ? await podWarnings(c, v.name) : [];
    return {
      ...inst,
      state: v.state,
      restarts: v.restarts,
      meta: {
        ...inst.meta,
        pod: v.name,
        ready: v.ready,
        ...(v.problem ? { problem: v.problem } : {}),
        ...(events.length ? { events } : {}),
      },
    };
  }

  /** The pod behind an instance (the index-th of its revision's pods by name). */
  private async podOf(c: Cluster, inst: Instance) {
    if (inst.meta?.chart === true) return (await this.charts.pods(inst))[0];
    const pods = await podsOf(c, inst.project, inst.env, inst.service, inst.revision);
    return pods.find((p) => p.metadata?.name === inst.meta?.pod) ?? pods[inst.index];
  }

  async exec(
    inst: Instance,
    command: string | string[],
    opts: { timeoutMs?: number } = {},
  ): Promise<{ exitCode: number; output: string }> {
    const c = this.cluster();
    const pod = await this.podOf(c, inst);
    if (!pod) throw new DriverError(this.name, `${inst.id} has no pod (yet) in namespace ${c.namespace}`);
    return execInPod(c, pod, command, opts.timeoutMs ?? 60_000);
  }

  /** Serialise read-modify-write of one workload (replicas stop concurrently). */
  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }

  async stop(inst: Instance, opts: StopOptions): Promise<void> {
    if (inst.meta?.chart === true) return this.charts.stop(inst, opts);
    const c = this.cluster();
    const stateful = inst.meta?.stateful === true;
    const name = stateful ? names.statefulSet(inst.service) : names.workload(inst.service, inst.revision);
    await this.locked(name, async () => {
      if (stateful) return this.scaleStatefulSet(c, name, inst.revision);
      const d = await orUndefined(c.apps.readNamespacedDeployment({ name, namespace: c.namespace }));
      if (!d) return;
      const left = (d.spec?.replicas ?? 1) - 1;
      // With an autoscaler the count is the HPA's: the revision goes as a whole.
      if (left > 0 && !inst.meta?.autoscaled) {
        const body = { spec: { replicas: left } };
        await c.apps.patchNamespacedDeploymentScale({ name, namespace: c.namespace, body }, MERGE_PATCH);
        return;
      }
      await this.removeRevision(c, inst.service, inst.revision);
    });
  }

  private async scaleStatefulSet(c: Cluster, name: string, revision: number): Promise<void> {
    const s = await orUndefined(c.apps.readNamespacedStatefulSet({ name, namespace: c.namespace }));
    // A later revision already took the StatefulSet over: leave it alone.
    if (!s || Number(s.metadata?.labels?.["slipway.dev/revision"]) !== revision) return;
    // A merge patch: client-node's default content type for patch is a JSON patch (a list of
    // operations), which the API server refuses for this object body.
    await c.apps.patchNamespacedStatefulSetScale(
      { name, namespace: c.namespace, body: { spec: { replicas: 0 } } },
      MERGE_PATCH,
    );
  }

  private async removeRevision(c: Cluster, service: string, revision: number): Promise<void> {
    const name = names.workload(service, revision);
    const namespace = c.namespace;
    await orUndefined(
      c.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: "Background" }),
    );
    await orUndefined(
      c.custom.deleteNamespacedCustomObject({
        group: "autoscaling",
        version: "v2",
        namespace,
        plural: "horizontalpodautoscalers",
        name,
      }),
    );
    await orUndefined(c.core.deleteNamespacedSecret({ name: names.secret(service, revision), namespace }));
  }

  async runOnce(
    req: InstanceRequest,
    command: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ exitCode: number; output: string }> {
    const c = this.cluster();
    if (req.service.chart)
      throw new DriverError(this.name, `${req.service.name} is a chart: nothing runs once`);
    await this.ensureNamespace(c, req.project);
    const r = this.release(req);
    const secret = renderRelease(r).workload.find((o: KubernetesObject) => o.kind === "Secret");
    if (secret) await c.apply(secret);
    return runJob(c, r, command, opts);
  }

  async *logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine> {
    const c = this.cluster();
    const refs = [];
    for (const inst of instances) {
      const pods = inst.meta?.chart === true ? await this.charts.pods(inst) : [await this.podOf(c, inst)];
      for (const pod of pods) if (pod?.metadata?.name) refs.push({ instance: inst.id, pod });
    }
    yield* podLogs(c, refs, opts);
  }

  /** CPU and memory from the metrics API (metrics-server), when the cluster has one. */
  async stats(inst: Instance): Promise<InstanceStats | undefined> {
    const c = this.cluster();
    const pod = await this.podOf(c, inst);
    if (!pod?.metadata?.name) return undefined;
    const usage = await podUsage(c, pod.metadata.name);
    if (!usage) return undefined;
    const limits = pod.spec?.containers?.[0]?.resources?.limits ?? {};
    const cpuLimit = limits.cpu ? parseCpu(String(limits.cpu)) : 1;
    const memoryLimit = limits.memory ? parseMemory(String(limits.memory)) : undefined;
    return {
      cpu: usage.cpu / (cpuLimit || 1),
      memory: usage.memory,
      ...(memoryLimit ? { memoryLimit } : {}),
    };
  }

  /** `destroy --delete-namespace`: the namespace and everything left in it. */
  async destroyEnvironment(_p: string, _e: string, opts: { deleteNamespace?: boolean }): Promise<string[]> {
    if (!opts.deleteNamespace) return [];
    const c = this.cluster();
    const gone = await orUndefined(c.core.deleteNamespace({ name: c.namespace }));
    this.namespaceReady = undefined;
    return gone ? [`namespace ${c.namespace}`] : [];
  }

  async prune(project: string, env: string, service: string, keep: number[]): Promise<void> {
    // Revisions are removed when their last instance stops; charts keep a snapshot per revision.
    await this.charts.prune(project, env, service, keep);
  }
}
