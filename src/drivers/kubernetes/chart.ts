/**
 * Chart services, the Argo CD way: `helm template` renders the chart (prepare), Slipway applies
 * the objects by server-side apply under its field manager, labelled `slipway.dev/*`, prunes the
 * objects the previous revision applied and this one does not, and gates on the rollout status of
 * the chart's workloads. No Helm release exists; the history is Slipway's. One instance stands for
 * the whole chart (index 0); its revision is the one applied (the release ConfigMap says which).
 */
import type { KubernetesObject, V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { DriverError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import type { Artifact, Instance, InstanceRequest, PrepareOptions, StopOptions } from "../driver.js";
import {
  chartNames,
  digestOf,
  inApplyOrder,
  labelled,
  objectsOfSnapshot,
  ownedBy,
  recordOf,
  refKey,
  refOf,
  releaseConfigMap,
  releaseOfConfigMap,
  ROLE,
  ROLES,
  snapshotSecret,
  type ChartRelease,
  type ObjectRef,
} from "./chart-objects.js";
import { hookEvent, hooksOf, isHook, runHooks, type HookContext } from "./chart-hooks.js";
import { chartHealth } from "./chart-status.js";
import { orUndefined, type Cluster } from "./cluster.js";
import { helmTemplate } from "./helm.js";
import { LABEL, ownerSelector, selectorString, type Owner } from "./manifests/names.js";
import { instanceId } from "./workloads.js";

export class ChartReleases {
  /** Rendered objects by `<service>/<artifact revision>` (the snapshot Secret holds them too). */
  private readonly rendered = new Map<string, KubernetesObject[]>();
  /** Post-* hook runs in flight, by `<service>/<revision>`. */
  private readonly posting = new Map<string, Promise<ChartRelease>>();

  constructor(
    private readonly cluster: () => Cluster,
    private readonly ensureNamespace: (c: Cluster, project: string) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Render the chart (a new revision) or read the revision's snapshot back (rollbacks). */
  async prepare(
    project: string,
    env: string,
    svc: ResolvedService,
    revision: number,
    opts: PrepareOptions = {},
  ): Promise<Artifact> {
    const c = this.cluster();
    const owner = { project, env, service: svc.name };
    let objects: KubernetesObject[];
    if (opts.existingOnly) {
      const snap = await orUndefined(
        c.core.readNamespacedSecret({
          name: chartNames.snapshot(svc.name, revision),
          namespace: c.namespace,
        }),
      );
      if (!snap)
        throw new DriverError(
          "kubernetes",
          `revision ${revision} of chart ${svc.name} is not kept on the cluster any more (Secret ${chartNames.snapshot(svc.name, revision)} in ${c.namespace}); deploy it again`,
        );
      objects = objectsOfSnapshot(snap);
    } else {
      objects = await helmTemplate({
        release: svc.name,
        namespace: c.namespace,
        service: svc,
        dir: svc.path,
      });
      if (!objects.length) throw new DriverError("kubernetes", `chart of ${svc.name} rendered no objects`);
      await this.ensureNamespace(c, project);
      await c.apply(snapshotSecret(owner, c.namespace, revision, objects, digestOf(objects)));
    }
    this.rendered.set(`${svc.name}/${revision}`, objects);
    const digest = digestOf(objects);
    return {
      service: svc.name,
      revision,
      ref: `chart:${svc.name}@sha256:${digest.slice(0, 16)}`,
      record: recordOf(svc, objects, digest),
    };
  }

  private async objectsOf(c: Cluster, service: string, artifact: number): Promise<KubernetesObject[]> {
    const key = `${service}/${artifact}`;
    const cached = this.rendered.get(key);
    if (cached) return cached;
    const snap = await orUndefined(
      c.core.readNamespacedSecret({ name: chartNames.snapshot(service, artifact), namespace: c.namespace }),
    );
    if (!snap) throw new DriverError("kubernetes", `no rendered objects of ${service} revision ${artifact}`);
    return objectsOfSnapshot(snap);
  }

  async release(c: Cluster, service: string): Promise<ChartRelease | undefined> {
    const cm = await orUndefined(
      c.core.readNamespacedConfigMap({ name: chartNames.release(service), namespace: c.namespace }),
    );
    return releaseOfConfigMap(cm as { data?: Record<string, string> } | undefined);
  }

  /**
   * Apply a revision's objects, prune what the previous revision applied and this one does not.
   * The chart's helm hooks run in their phases: pre-* here, before anything else is applied (a
   * failure applies nothing more), post-* from live() once the workloads are rolled out.
   */
  async start(req: InstanceRequest): Promise<Instance> {
    const c = this.cluster();
    await this.ensureNamespace(c, req.project);
    const owner = { project: req.project, env: req.env, service: req.service.name };
    const objects = await this.objectsOf(c, req.service.name, req.artifact.revision);
    const before = await this.release(c, req.service.name);
    const event = hookEvent(before, req);
    const hookCtx: HookContext = {
      c,
      owner,
      revision: req.revision,
      version: req.version,
      logger: this.logger,
    };
    const hooks = event ? await runHooks(hookCtx, objects, `pre-${event}`) : [];
    const applied: ObjectRef[] = [];
    for (const o of inApplyOrder(objects.filter((x) => !isHook(x)))) {
      const obj = labelled(o, owner, req.revision, req.version);
      await c.apply(obj);
      applied.push(refOf(obj));
    }
    const keep = new Set(applied.map(refKey));
    const gone = (before?.objects ?? []).filter((r) => !keep.has(refKey(r)));
    const pruned = await this.deleteOwned(c, owner, gone);
    if (pruned.length)
      this.logger.info(`${req.service.name}: pruned ${pruned.join(", ")} (no longer in the chart)`);
    const previous = before && before.revision !== req.revision ? before.revision : before?.previous;
    const post = event && hooksOf(objects, `post-${event}`).length ? `post-${event}` : undefined;
    const rel: ChartRelease = {
      revision: req.revision,
      version: req.version,
      artifact: req.artifact.revision,
      ...(previous !== undefined ? { previous } : {}),
      objects: applied,
      appliedAt: new Date().toISOString(),
      ...(post ? { post } : {}),
      ...mergedHooks(before?.hooks, hooks),
    };
    await c.apply(releaseConfigMap(owner, c.namespace, rel));
    return this.instanceOf(c, owner, rel, "starting");
  }

  /** The post-* hooks of a release, once (live() is polled): the release records how they went. */
  private postHooks(c: Cluster, owner: Owner, rel: ChartRelease): Promise<ChartRelease> {
    const key = `${owner.service}/${rel.revision}`;
    let p = this.posting.get(key);
    if (!p) {
      p = (async () => {
        const objects = await this.objectsOf(c, owner.service, rel.artifact);
        const ctx = { c, owner, revision: rel.revision, version: rel.version, logger: this.logger };
        const { post, ...rest } = rel;
        let next: ChartRelease;
        try {
          next = { ...rest, ...mergedHooks(rel.hooks, await runHooks(ctx, objects, String(post))) };
        } catch (e) {
          next = { ...rest, hookFailure: (e as Error).message };
        }
        await c.apply(releaseConfigMap(owner, c.namespace, next));
        return next;
      })().finally(() => this.posting.delete(key));
      this.posting.set(key, p);
    }
    return p;
  }

  private instanceOf(c: Cluster, owner: Owner, rel: ChartRelease, state: Instance["state"]): Instance {
    return {
      id: instanceId(owner.service, rel.revision, 0),
      project: owner.project,
      env: owner.env,
      service: owner.service,
      revision: rel.revision,
      version: rel.version,
      slot: "stable",
      index: 0,
      state,
      startedAt: rel.appliedAt,
      restarts: 0,
      meta: { namespace: c.namespace, chart: true, objects: rel.objects.length },
    };
  }

  /** Delete the objects that carry this service's labels (anything else is left alone). */
  private async deleteOwned(
    c: Cluster,
    owner: Owner,
    refs: ObjectRef[],
    role: string = ROLES.object,
  ): Promise<string[]> {
    const done: string[] = [];
    for (const r of refs) {
      const header = {
        apiVersion: r.apiVersion,
        kind: r.kind,
        metadata: { name: r.name, namespace: r.namespace },
      };
      const live = await orUndefined(c.objects.read(header));
      if (!ownedBy(live, owner, role)) continue;
      await orUndefined(c.objects.delete(header, undefined, undefined, undefined, undefined, "Background"));
      done.push(`${r.kind.toLowerCase()}/${r.name}`);
    }
    return done;
  }

  /** The chart's instance as it is now: ready when its workloads are rolled out, else why not. */
  async live(inst: Instance): Promise<Instance | undefined> {
    const c = this.cluster();
    let rel = await this.release(c, inst.service);
    if (!rel || rel.revision !== inst.revision) return undefined;
    let h = await chartHealth(c, rel.objects);
    if (h.ready && rel.post) {
      rel = await this.postHooks(c, { project: inst.project, env: inst.env, service: inst.service }, rel);
      h = { ...h, ready: !rel.hookFailure };
    }
    if (rel.hookFailure) h = { ...h, ready: false, problem: rel.hookFailure };
    const crash = /CrashLoopBackOff|OOMKilled/.test(h.problem ?? "");
    return {
      ...inst,
      state: h.ready ? "running" : crash ? "crashloop" : "starting",
      restarts: h.restarts,
      meta: {
        ...inst.meta,
        ready: h.ready,
        ...(h.waiting && !h.ready ? { waiting: h.waiting } : {}),
        ...(h.pod ? { pod: h.pod } : {}),
        ...(h.problem ? { problem: h.problem } : {}),
        ...(h.events?.length ? { events: h.events } : {}),
      },
    };
  }

  /** The pods of the chart's workloads (logs, exec, stats go to them). */
  async pods(inst: Instance) {
    const c = this.cluster();
    const rel = await this.release(c, inst.service);
    return rel ? (await chartHealth(c, rel.objects)).pods : [];
  }

  /** One instance per chart service, from the release ConfigMaps. */
  async inspect(project: string, env: string): Promise<Instance[]> {
    const c = this.cluster();
    const labelSelector = selectorString({ ...ownerSelector({ project, env }), [ROLE]: ROLES.release });
    const list = await c.core.listNamespacedConfigMap({ namespace: c.namespace, labelSelector });
    const out: Instance[] = [];
    for (const cm of list.items as V1ConfigMap[]) {
      const rel = releaseOfConfigMap(cm as { data?: Record<string, string> });
      const service = cm.metadata?.labels?.[LABEL.service];
      if (!rel || !service) continue;
      const h = await chartHealth(c, rel.objects);
      out.push(this.instanceOf(c, { project, env, service }, rel, h.ready ? "running" : "starting"));
    }
    return out;
  }

  /**
   * Retiring a chart's instance leaves its objects: the next revision's apply updates them in
   * place, and an undo re-applies the previous revision. Only a first revision that failed (nothing
   * to go back to), `stop` and `destroy` delete the chart's objects.
   */
  async stop(inst: Instance, opts: StopOptions): Promise<void> {
    const c = this.cluster();
    const rel = await this.release(c, inst.service);
    if (!rel || rel.revision !== inst.revision) return;
    if (opts.retire === "superseded" || (opts.retire === "failed" && rel.previous !== undefined)) return;
    const owner = { project: inst.project, env: inst.env, service: inst.service };
    await this.deleteOwned(c, owner, [...rel.objects].reverse());
    await this.deleteOwned(c, owner, rel.hooks ?? [], ROLES.hook);
    // Hook Jobs and Pods that failed are not in the release's list: find them by their labels.
    const labelSelector = selectorString({ ...ownerSelector(owner), [ROLE]: ROLES.hook });
    const namespace = c.namespace;
    for (const j of (await c.batch.listNamespacedJob({ namespace, labelSelector })).items)
      await orUndefined(
        c.batch.deleteNamespacedJob({
          name: String(j.metadata?.name),
          namespace,
          propagationPolicy: "Background",
        }),
      );
    for (const p of (await c.core.listNamespacedPod({ namespace, labelSelector })).items)
      await orUndefined(c.core.deleteNamespacedPod({ name: String(p.metadata?.name), namespace }));
    await orUndefined(
      c.core.deleteNamespacedConfigMap({ name: chartNames.release(inst.service), namespace: c.namespace }),
    );
  }

  /** Drop the snapshots of revisions not kept (`retain`; destroy keeps none). */
  async prune(project: string, env: string, service: string, keep: number[]): Promise<void> {
    const c = this.cluster();
    const labelSelector = selectorString({
      ...ownerSelector({ project, env, service }),
      [ROLE]: ROLES.snapshot,
    });
    const list = await c.core.listNamespacedSecret({ namespace: c.namespace, labelSelector });
    for (const s of list.items as V1Secret[]) {
      const rev = Number(s.metadata?.labels?.[LABEL.revision]);
      if (keep.includes(rev) || !s.metadata?.name) continue;
      await orUndefined(c.core.deleteNamespacedSecret({ name: s.metadata.name, namespace: c.namespace }));
      this.rendered.delete(`${service}/${rev}`);
    }
  }
}

/** The hook objects left on the cluster, old and new (one entry per object). */
function mergedHooks(before: ObjectRef[] = [], now: ObjectRef[] = []): { hooks?: ObjectRef[] } {
  const all = new Map([...before, ...now].map((r) => [refKey(r), r]));
  return all.size ? { hooks: [...all.values()] } : {};
}
