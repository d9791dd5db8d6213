/**
 * The one place that builds concrete parts (store, drivers, proxy, probes) from the
 * environment and the resolved spec's target (DESIGN §3: nothing else imports them).
 */
import { join } from "node:path";
import type { PreflightTarget } from "./checks/types.js";
import type { Driver } from "./drivers/driver.js";
import type { DockerDriver } from "./drivers/docker/docker-driver.js";
import { checkKubeContext } from "./drivers/kubernetes/context-check.js";
import { podReadinessGate } from "./drivers/kubernetes/health.js";
import type { KubernetesDriver } from "./drivers/kubernetes/kubernetes-driver.js";
import type { KubernetesTarget } from "./spec/schema-kubernetes.js";
import { DriverError } from "./errors.js";
import type { EngineDeps } from "./engine/context.js";
import type { EngineEvent } from "./engine/events.js";
import { makeHealthGate } from "./engine/health-gate.js";
import { silentLogger, type Logger } from "./logger.js";
import type { TrafficRouter } from "./proxy/contract.js";
import { Slipway } from "./slipway.js";
import { NotifierHub } from "./notify/hub.js";
import { CrashLoopWatch } from "./engine/crash-loop-watch.js";
import { AnalysisWatcher } from "./engine/analysis-watch.js";
import { autoRollback } from "./engine/auto-rollback.js";
import type { Target } from "./spec/schema.js";
import type { Resolution } from "./spec/resolve.js";
import { openStore, storeOptionsFromEnv } from "./store/open.js";
import type { Store } from "./store/store.js";

export type EventSubscriber = (project: string, env: string, e: EngineEvent) => void;

export interface Runtime {
  store: Store;
  home: string;
  /** Receive every event of every operation (alerts, steps, logs). */
  subscribe(fn: EventSubscriber): () => void;
  /** The API for one target (a kind, or the target block of a resolved spec: docker socket/hosts). */
  slipway(target: Target | string): Slipway;
  /** Recover interrupted operations and reconcile instances of every known environment. */
  recoverAll(log?: (msg: string) => void): Promise<void>;
  /** The latest resolution an operation brought for an environment (kept in memory only). */
  remember(resolution: Resolution): void;
  latest(project: string, env: string): Resolution | undefined;
  /** What pre-flight checks of a target measure beyond this machine (Docker hosts); undefined: this machine. */
  preflight(target: Target): PreflightTarget | undefined;
  /** Periodic housekeeping (the daemon calls it every few seconds): warm reaping, self-heal, proxy supervision. */
  tick(log?: (msg: string) => void): Promise<void>;
  /** The proxy's Prometheus text, or undefined when no proxy runs (a scrape never starts one). */
  proxyMetrics(): Promise<string | undefined>;
  /** Alerts: one notifier per environment, fed by the events; the daemon calls notify.start(). */
  notify: NotifierHub;
  close(): Promise<void>;
}

export async function createRuntime(opts: { home: string; logger?: Logger }): Promise<Runtime> {
  const logger = opts.logger ?? silentLogger;
  const store = await openStore({ ...storeOptionsFromEnv(), home: opts.home, logger });
  const drivers = new Map<string, Driver>();
  const slipways = new Map<string, Slipway>();
  const subscribers = new Set<EventSubscriber>();
  const notify = new NotifierHub({ home: opts.home, store, logger });
  subscribers.add(notify.onEvent);
  const latestByEnv = new Map<string, Resolution>();
  const publish = (project: string, env: string, e: EngineEvent) => {
    // Alerts are also kept in the store's event timeline.
    if (e.type === "alert")
      void store
        .addEvent({
          project,
          env,
          time: new Date().toISOString(),
          kind: e.kind,
          severity: e.severity,
          service: e.service,
          revision: e.revision,
          message: e.message,
          data: e.data,
        })
        .catch((err: Error) => logger.warn(`could not record event: ${err.message}`));
    for (const fn of subscribers) {
      try {
        fn(project, env, e);
      } catch (err) {
        logger.warn(`event subscriber failed: ${(err as Error).message}`);
      }
    }
  };
  let router: TrafficRouter | undefined;
  const getRouter = async (): Promise<TrafficRouter> => {
    if (!router) {
      const { ProxyClient } = await import("./proxy/client.js");
      router = new ProxyClient({ home: opts.home, logger });
    }
    await router.ensureRunning();
    return router;
  };
  const driverFor = async (target: Target): Promise<Driver> => {
    const key = JSON.stringify(target);
    const kind = target.kind;
    let d = drivers.get(key);
    if (d) return d;
    if (kind === "process") {
      const { ProcessDriver } = await import("./drivers/process/process-driver.js");
      d = new ProcessDriver({ home: opts.home, logger });
    } else if (kind === "docker") {
      const { DockerDriver } = await import("./drivers/docker/docker-driver.js");
      const t = target as {
        socket?: string;
        hosts?: Array<string | { ssh: string; publish?: string }>;
        ssh?: { key?: string; knownHosts?: string };
      };
      d = new DockerDriver({
        home: opts.home,
        logger,
        socketPath: t.socket,
        hosts: t.hosts,
        ssh: { privateKeyPath: t.ssh?.key, knownHostsPath: t.ssh?.knownHosts },
      });
    } else if (kind === "kubernetes") {
      const { KubernetesDriver } = await import("./drivers/kubernetes/kubernetes-driver.js");
      d = new KubernetesDriver({ target: target as KubernetesTarget, logger });
    } else {
      throw new DriverError(kind, `the ${kind} target is not available in this build`);
    }
    drivers.set(key, d);
    return d;
  };
  // Drivers load lazily (dockerode is heavy); a proxy object defers to the real one.
  const lazyDriver = (target: Target): Driver => {
    const kind = target.kind;
    const call =
      <K extends keyof Driver>(k: K) =>
      async (...args: unknown[]) =>
        ((await driverFor(target))[k] as (...a: unknown[]) => unknown)(...args);
    return {
      name: kind,
      capabilities: { trafficSplit: true, gpus: kind === "docker", exec: true, stats: true, adopt: true },
      prepare: call("prepare") as Driver["prepare"],
      inspect: call("inspect") as Driver["inspect"],
      start: call("start") as Driver["start"],
      stop: call("stop") as Driver["stop"],
      runOnce: call("runOnce") as Driver["runOnce"],
      stats: call("stats") as Driver["stats"],
      // Only containers have a live state beyond their pids (exited, Docker's health status).
      live:
        kind === "docker" || kind === "kubernetes"
          ? (call("live") as NonNullable<Driver["live"]>)
          : undefined,
      // Only containers are kept after they stop (retired, for their logs).
      retired: kind === "docker" ? (call("retired") as NonNullable<Driver["retired"]>) : undefined,
      prune: call("prune") as Driver["prune"],
      sourceDigest: async (project, env, svc) => (await driverFor(target)).sourceDigest?.(project, env, svc),
      // Only containers run exec probes inside the instance; process instances run them on the host.
      exec:
        kind === "docker"
          ? async (inst, cmd, o) => {
              const d = await driverFor(target);
              if (!d.exec) throw new DriverError(kind, "exec is not supported");
              return d.exec(inst, cmd, o);
            }
          : undefined,
      logs: (instances, o) => ({
        async *[Symbol.asyncIterator]() {
          yield* (await driverFor(target)).logs(instances, o);
        },
      }),
    };
  };
  // Pre-flight checks measure the machines of a Docker target (over the driver's SSH settings)
  // and ask its engines for the NVIDIA runtime; the driver is loaded only when a check asks.
  const dockerPreflight = (target: Target): PreflightTarget => {
    const docker = async () => (await driverFor(target)) as DockerDriver;
    return {
      hosts: async () => (await docker()).hostShells(),
      gpuSupport: async () => (await docker()).gpuSupport(),
    };
  };
  // Kubernetes: traffic is the Service selector, and the kubelet's readiness is the health gate.
  const kubeRouter = (target: Target) => async () => ((await driverFor(target)) as KubernetesDriver).router();
  const deps = (target: Target): EngineDeps => {
    const driver = lazyDriver(target);
    return {
      ...(target.kind === "docker" ? { preflight: dockerPreflight(target) } : {}),
      home: opts.home,
      store,
      driver,
      router: target.kind === "kubernetes" ? kubeRouter(target) : getRouter,
      health:
        target.kind === "kubernetes"
          ? podReadinessGate(driver.live as NonNullable<Driver["live"]>)
          : makeHealthGate(driver),
      logger,
      actor: Slipway.actor(),
      publish,
    };
  };
  const healthWatch = new CrashLoopWatch({
    store,
    inspect: (target, project, env) => lazyDriver(target).inspect(project, env),
    publish,
    file: join(opts.home, "health-watch.json"),
    rollback: async (project, env, reason) => {
      const r = await autoRollback({ store, deps }, project, env, {
        latest: engine.latest(project, env),
        description: `automatic rollback: ${reason}`,
      });
      return `rolled back as revision ${r.revision} (${r.version})`;
    },
  });
  // The post-deploy analysis watch: started by tick(), so only the daemon watches.
  const watcher = new AnalysisWatcher({
    store,
    deps,
    publish,
    latest: (project, env) => engine.latest(project, env),
    logger,
  });
  const engine: Runtime = {
    store,
    notify,
    home: opts.home,
    remember(r) {
      latestByEnv.set(`${r.spec.project}\u0000${r.spec.env}`, r);
    },
    latest(project, env) {
      return latestByEnv.get(`${project}\u0000${env}`);
    },
    preflight: (target) => (target.kind === "docker" ? dockerPreflight(target) : undefined),
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
    slipway(t: Target | string) {
      const target = (typeof t === "string" ? { kind: t } : t) as Target;
      // A wrong cluster is refused before any operation starts (exit 4).
      if (target.kind === "kubernetes") checkKubeContext(target as KubernetesTarget);
      const key = JSON.stringify(target);
      let s = slipways.get(key);
      if (!s) {
        s = new Slipway(deps(target), notify);
        slipways.set(key, s);
      }
      return s;
    },
    async recoverAll(log) {
      const seen = new Set<string>();
      for (const i of await store.allInstances()) seen.add(`${i.project}\u0000${i.env}`);
      for (const key of seen) {
        const [project, env] = key.split("\u0000");
        const [latest] = await store.listRevisions(project, env, { limit: 1 });
        const kind =
          (latest?.snapshot as { target?: { kind?: string } } | undefined)?.target?.kind ?? "process";
        try {
          const r = await engine.slipway(kind).recover(project, env);
          if (r) log?.(`recovered ${project}/${env}: ${JSON.stringify(r)}`);
        } catch (e) {
          log?.(`recovery of ${project}/${env} failed: ${(e as Error).message}`);
        }
      }
    },
    async proxyMetrics() {
      const { ProxyClient } = await import("./proxy/client.js");
      return new ProxyClient({ home: opts.home, logger }).scrape();
    },
    async tick(log) {
      const byEnv = new Map<string, { project: string; env: string; warm: boolean; routed: boolean }>();
      for (const i of await store.allInstances()) {
        const k = `${i.project}\u0000${i.env}`;
        const e = byEnv.get(k) ?? { project: i.project, env: i.env, warm: false, routed: false };
        e.warm = true; // every environment with instances gets housekeeping (warm reaping, self-heal)
        e.routed ||= i.port !== undefined;
        byEnv.set(k, e);
      }
      // The proxy is supervised: if it died, start it again (its routing table is on disk).
      if ([...byEnv.values()].some((e) => e.routed)) {
        try {
          await getRouter();
        } catch (e) {
          log?.(`proxy supervision: ${(e as Error).message}`);
        }
      }
      for (const e of byEnv.values()) {
        if (!e.warm) continue;
        const [latest] = await store.listRevisions(e.project, e.env, { limit: 1 });
        const kind =
          (latest?.snapshot as { target?: { kind?: string } } | undefined)?.target?.kind ?? "process";
        const touched = await engine
          .slipway(kind)
          .maintain(e.project, e.env, engine.latest(e.project, e.env));
        if (touched.length) log?.(`housekeeping ${e.project}/${e.env}: ${touched.join(", ")}`);
      }
      await healthWatch.sweep().catch((e: Error) => log?.(`health watch: ${e.message}`));
      await watcher.tick(byEnv.values()).catch((e: Error) => log?.(`analysis watch: ${e.message}`));
    },
    async close() {
      watcher.close();
      await notify.close();
      for (const d of drivers.values()) await d.close?.();
      await store.close();
    },
  };
  return engine;
}

/** `slipway render`: the Kubernetes driver renders an environment's manifests. */
export { renderManifests } from "./drivers/kubernetes/render-environment.js";
