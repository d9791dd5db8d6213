/**
 * A worker process of the proxy (SLIPWAY_PROXY_WORKERS > 1): the data plane (listeners,
 * forwarding, drains, stats) of the same Proxy class as the single process, driven by the
 * primary over the cluster IPC channel instead of the control socket. Listeners are shared
 * through node:cluster: the primary binds each (address, port) once and hands connections to
 * the workers in turn. Route changes, certificates and challenge tokens are applied one at a
 * time, in the order they came; stats and drain waits answer at once.
 */
import cluster from "node:cluster";
import type { Logger } from "../logger.js";
import { sleep } from "../util/sleep.js";
import type { FromWorker, ToWorker, WorkerStats } from "./cluster-ipc.js";
import { ProxyControlError } from "./paths.js";
import { Proxy } from "./server.js";

function reply(msg: FromWorker): void {
  // The primary may be gone (then this process exits on the disconnect): nothing to answer.
  if (process.connected) process.send?.(msg, undefined, undefined, () => {});
}

/**
 * Test-only hook: workers with an even cluster id apply route changes this many ms late, so a
 * test can tell "setRoute waited for every worker" from "the workers happened to be quick".
 */
const slowSetMs = () =>
  (cluster.worker?.id ?? 1) % 2 === 0 ? Number(process.env.SLIPWAY_TEST_SLOW_SET_MS) || 0 : 0;

async function handle(proxy: Proxy, m: ToWorker): Promise<unknown> {
  switch (m.op) {
    case "init":
      await proxy.restoreRoutes(m.routes);
      for (const [route, pem] of m.certs) proxy.putCert(route, pem);
      for (const [token, keyAuth] of m.tokens) proxy.setChallenge(token, keyAuth);
      return undefined;
    case "set":
      if (slowSetMs()) await sleep(slowSetMs());
      return proxy.setRoute(m.route);
    case "remove":
      return proxy.removeRoute(m.key);
    case "stats":
      return proxy.metricTargets() satisfies WorkerStats;
    case "info":
      return proxy.requestCount();
    case "waitDrained":
      return proxy.waitDrained(m.targets, m.timeoutMs);
    case "cert":
      return proxy.putCert(m.route, m.pem);
    case "token":
      return proxy.setChallenge(m.token, m.keyAuth);
    case "close":
      return proxy.close({ graceful: m.graceful, timeoutMs: m.timeoutMs });
  }
}

/**
 * Run this process as a worker until the primary asks it to close (or `stop` is called, e.g. on
 * SIGTERM); resolves when it has closed.
 */
export function runWorker(home: string, log: Logger): { closed: Promise<void>; stop(): Promise<void> } {
  const proxy = new Proxy(home, log, true);
  let queue: Promise<unknown> = Promise.resolve();
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  process.on("message", (m: ToWorker) => {
    const run = async () => {
      try {
        const value = await handle(proxy, m);
        reply({ id: m.id, ok: true, value });
      } catch (e) {
        const status = e instanceof ProxyControlError ? e.status : 500;
        reply({ id: m.id, ok: false, status, error: (e as Error).message });
      }
      if (m.op === "close") done();
    };
    if (m.op === "stats" || m.op === "info" || m.op === "waitDrained") void run();
    else queue = queue.then(run);
  });
  reply({ ready: true });
  log.info("worker process started");
  return {
    closed,
    stop: async () => {
      await proxy.close({ graceful: true });
      done();
    },
  };
}
