/**
 * The one place that builds concrete parts (store, drivers, proxy, probes) from the
 * environment and the resolved spec's target (DESIGN §3: nothing else imports them; its parts sit in factory/).
 */
import { join } from "node:path";
import type { PreflightTarget } from "./checks/types.js";
import type { Driver } from "./drivers/driver.js";
import { checkKubeContext, liveKubeContext } from "./drivers/kubernetes/context-check.js";
import { podReadinessGate } from "./drivers/kubernetes/health.js";
import type { KubernetesDriver } from "./drivers/kubernetes/kubernetes-driver.js";
import type { KubernetesTarget } from "./spec/schema-kubernetes.js";
import type { EngineDeps } from "./engine/context.js";
import { makeHealthGate } from "./engine/health-gate.js";
import { silentLogger, type Logger } from "./logger.js";
import type { TrafficRouter } from "./proxy/contract.js";
import { Slipway } from "./slipway.js";
import { NotifierHub } from "./notify/hub.js";
import { CrashLoopWatch } from "./engine/crash-loop-watch.js";
import { AnalysisWatcher } from "./engine/analysis-watch.js";
import { RuleWatcher } from "./engine/rules/rule-watch.js";
import { autoRollback } from "./engine/auto-rollback.js";
import type { Target } from "./spec/schema.js";
import type { Resolution } from "./spec/resolve.js";
import { openStore, storeOptionsFromEnv } from "./store/open.js";
import { ensurePrivateHome } from "./util/home.js";
import type { Store } from "./store/store.js";
import { DriverCache } from "./factory/drivers.js";
import { EventBus, type EventSubscriber } from "./factory/event-bus.js";
import { recoverAll, tick, type MaintenanceContext } from "./factory/maintenance.js";

export type { EventSubscriber } from "./factory/event-bus.js";

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
  /** Standing alert rules: the daemon's scheduler hands it the deployed specs (rules.sync). */
  rules: RuleWatcher;
  close(): Promise<void>;
}

export async function createRuntime(opts: { home: string; logger?: Logger }): Promise<Runtime> {
  const logger = opts.logger ?? silentLogger;
  ensurePrivateHome(opts.home);
  const store = await openStore({ ...storeOptionsFromEnv(), home: opts.home, logger });
  const drivers = new DriverCache({ home: opts.home, logger });
  const notify = new NotifierHub({ home: opts.home, store, logger });
  const bus = new EventBus(store, logger);
  bus.subscribe(notify.onEvent);
  const getRouter = routerGetter(opts.home, logger);
  // Kubernetes: traffic is the Service selector, and the kubelet's readiness is the health gate.
  const kubeRouter = (target: Target) => async () =>
    ((await drivers.driverFor(target)) as KubernetesDriver).router();
  const deps = (target: Target): EngineDeps => {
    const driver = drivers.lazy(target);
    const preflight = drivers.preflight(target);
    return {
      ...(preflight ? { preflight } : {}),
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
      publish: bus.publish,
      ...(target.kind === "kubernetes"
        ? { kubeContext: () => liveKubeContext(target as KubernetesTarget) }
        : {}),
    };
  };
  const latestByEnv = new Map<string, Resolution>();
  const latest = (project: string, env: string) => latestByEnv.get(`${project}\u0000${env}`);
  const rules = new RuleWatcher({ store, deps, publish: bus.publish, logger });
  const slipway = slipwayCache((target) => new Slipway(deps(target), notify, rules));
  const watches = startWatches({
    home: opts.home,
    store,
    logger,
    deps,
    publish: bus.publish,
    latest,
    drivers,
  });
  const maintenance: MaintenanceContext = { store, slipway, latest, ensureRouter: getRouter, ...watches };
  return {
    store,
    notify,
    rules,
    home: opts.home,
    remember(r) {
      latestByEnv.set(`${r.spec.project}\u0000${r.spec.env}`, r);
    },
    latest,
    preflight: (target) => drivers.preflight(target),
    subscribe: (fn) => bus.subscribe(fn),
    slipway,
    recoverAll: (log) => recoverAll(maintenance, log),
    async proxyMetrics() {
      const { ProxyClient } = await import("./proxy/client.js");
      return new ProxyClient({ home: opts.home, logger }).scrape();
    },
    tick: (log) => tick(maintenance, log),
    async close() {
      rules.close();
      watches.analysis.close();
      await notify.close();
      await drivers.close();
      await store.close();
    },
  };
}

/** The proxy client, made on first use and started whenever an operation needs routing. */
function routerGetter(home: string, logger: Logger): () => Promise<TrafficRouter> {
  let router: TrafficRouter | undefined;
  return async () => {
    if (!router) {
      const { ProxyClient } = await import("./proxy/client.js");
      router = new ProxyClient({ home, logger });
    }
    await router.ensureRunning();
    return router;
  };
}

/** One Slipway per target (a kind, or a target block). */
function slipwayCache(make: (target: Target) => Slipway): (t: Target | string) => Slipway {
  const slipways = new Map<string, Slipway>();
  return (t) => {
    const target = (typeof t === "string" ? { kind: t } : t) as Target;
    // A wrong cluster is refused before any operation starts (exit 4).
    if (target.kind === "kubernetes") checkKubeContext(target as KubernetesTarget);
    const key = JSON.stringify(target);
    let s = slipways.get(key);
    if (!s) {
      s = make(target);
      slipways.set(key, s);
    }
    return s;
  };
}

/** The crash-loop watch and the post-deploy analysis watch: swept by tick(), so only the daemon watches. */
function startWatches(o: {
  home: string;
  store: Store;
  logger: Logger;
  deps: (target: Target) => EngineDeps;
  publish: EventSubscriber;
  latest: (project: string, env: string) => Resolution | undefined;
  drivers: DriverCache;
}): { crashLoops: CrashLoopWatch; analysis: AnalysisWatcher } {
  const { store, deps, publish, latest } = o;
  const crashLoops = new CrashLoopWatch({
    store,
    inspect: (target, project, env) => o.drivers.lazy(target).inspect(project, env),
    publish,
    file: join(o.home, "health-watch.json"),
    rollback: async (project, env, reason) => {
      const r = await autoRollback({ store, deps }, project, env, {
        latest: latest(project, env),
        description: `automatic rollback: ${reason}`,
      });
      return `rolled back as revision ${r.revision} (${r.version})`;
    },
  });
  const analysis = new AnalysisWatcher({ store, deps, publish, latest, logger: o.logger });
  return { crashLoops, analysis };
}

/** `slipway render`: the Kubernetes driver renders an environment's manifests. */
export { renderManifests } from "./drivers/kubernetes/render-environment.js";
export { importHelmRelease } from "./drivers/kubernetes/helm-import.js";
