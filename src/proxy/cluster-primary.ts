/**
 * The proxy with several worker processes (SLIPWAY_PROXY_WORKERS > 1). The primary keeps what
 * there must be one of per machine: the control socket, the routing table and its snapshot, the
 * ACME client. The workers run the data plane. A route change returns only once every worker
 * applied it, so after setRoute no worker sends a new request to the old target. Stats, metrics
 * and drain waits are summed over the workers, latency histograms merged bucket-wise. A worker
 * that dies is replaced with the current table (and logged).
 */
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { AcmeManager, type CertPem } from "./acme.js";
import type { ProxyServer, Route, TargetStats } from "./contract.js";
import type { WorkerInfo, WorkerRequest, WorkerStats } from "./cluster-ipc.js";
import { readyWithin, WorkerLink, type LinkReply } from "./cluster-links.js";
import { mergeStats, publicStats } from "./merge.js";
import { prometheusText, type MetricTarget } from "./metrics.js";
import { ProxyControlError, proxyPaths } from "./paths.js";
import { loadSnapshot, parseRoute, saveSnapshot } from "./routes.js";
import { serveProxy } from "./start.js";

const READY_MS = 30_000;

const failure = (r: LinkReply) => ("ok" in r && !r.ok ? r : undefined);

/** The ACME set-up of a route the primary must manage (HTTPS + ACME), as a comparable string. */
function acmeSig(route: Route | undefined): string | undefined {
  const e = route?.edge;
  const tls = e?.tls;
  return e?.https && e.http && tls && "acme" in tls ? JSON.stringify([tls, e.domains]) : undefined;
}

export class ClusterProxy implements ProxyServer {
  readonly socketPath: string;
  private readonly paths: ReturnType<typeof proxyPaths>;
  private readonly routes = new Map<string, Route>();
  private readonly links = new Set<WorkerLink>();
  private readonly certs = new Map<string, CertPem>();
  private readonly tokens = new Map<string, string>();
  private readonly acme: AcmeManager;
  private readonly managed = new Map<string, { sig: string; stop: () => void }>();
  private queue: Promise<unknown> = Promise.resolve();
  private started = false;
  private closed = false;
  private quickExits = 0;
  /** Workers that died after they were ready, before start() finished: replaced once it has. */
  private lostAtStart = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  closeControl: () => Promise<void> = async () => {};

  constructor(
    private readonly home: string,
    private readonly log: Logger,
    readonly size: number,
  ) {
    this.paths = proxyPaths(home);
    this.socketPath = this.paths.socket;
    this.acme = new AcmeManager(
      this.paths.acme,
      log,
      (route, _c, pem) => this.onCert(route, pem),
      (token, keyAuth) => this.onToken(token, keyAuth),
    );
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private broadcast(req: WorkerRequest): Promise<{ link: WorkerLink; r: LinkReply }[]> {
    const live = [...this.links].filter((l) => l.live);
    return Promise.all(live.map(async (link) => ({ link, r: await link.call(req) })));
  }

  /** Restore the snapshot, start the workers and give each the table. */
  async start(): Promise<void> {
    const { routes, problems } = await loadSnapshot(this.paths.snapshot);
    for (const p of problems) this.log.warn(p);
    for (const r of routes) this.routes.set(r.key, r);
    const links = Array.from({ length: this.size }, () => this.fork());
    await Promise.all(links.map((l) => readyWithin(l, READY_MS)));
    await Promise.all(links.map((l) => this.init(l)));
    for (const r of routes) this.manageAcme(r.key, r);
    this.started = true;
    for (; this.lostAtStart > 0; this.lostAtStart--) void this.replace();
    this.log.info("worker processes started", {
      workers: links.map((l) => l.pid).join(" "),
      routes: routes.length,
    });
  }

  private fork(): WorkerLink {
    const link = WorkerLink.fork(this.home);
    link.onStuck = (op, ms) =>
      this.log.error("worker process did not answer; killing it", { worker: link.pid, op, afterMs: ms });
    this.links.add(link);
    void link.exited.then(({ code, signal }) => this.onExit(link, code, signal));
    return link;
  }

  private async init(link: WorkerLink): Promise<void> {
    link.live = true;
    const r = await link.call({
      op: "init",
      routes: [...this.routes.values()],
      certs: [...this.certs],
      tokens: [...this.tokens],
    });
    const f = failure(r);
    if (f)
      this.log.error("a worker process could not take the routing table", {
        worker: link.pid,
        error: f.error,
      });
  }

  private onExit(link: WorkerLink, code: number | null, signal: string | null): void {
    this.links.delete(link);
    if (this.closed) return;
    if (!this.started) {
      this.lostAtStart++;
      return;
    }
    const quick = Date.now() - link.startedAt < 10_000;
    this.quickExits = quick ? this.quickExits + 1 : 0;
    const delay = quick ? Math.min(30_000, 250 * 2 ** Math.min(this.quickExits, 7)) : 0;
    this.log.error("worker process exited; starting another with the current routes", {
      worker: link.pid,
      code,
      signal,
      restartInMs: delay,
    });
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.replace();
    }, delay);
    this.timers.add(t);
  }

  private async replace(): Promise<void> {
    if (this.closed) return;
    const link = this.fork();
    try {
      await readyWithin(link, READY_MS);
    } catch (e) {
      this.log.error("worker process did not start", { error: (e as Error).message });
      return; // its exit schedules the next attempt
    }
    await this.serial(async () => {
      if (!this.closed) await this.init(link);
    });
    this.log.info("worker process replaced", { worker: link.pid, routes: this.routes.size });
  }

  setRoute(input: Route): Promise<void> {
    const parsed = parseRoute(input);
    if ("error" in parsed) return Promise.reject(new ProxyControlError(400, parsed.error));
    const route = parsed.route;
    return this.serial(async () => {
      if (this.closed) throw new ProxyControlError(503, "the proxy is shutting down");
      const prev = this.routes.get(route.key);
      const replies = await this.broadcast({ op: "set", route });
      const failed = replies.map((x) => failure(x.r)).find((f) => f !== undefined);
      if (failed) {
        // Workers share one table: take the change back where it was applied.
        const undo: WorkerRequest = prev ? { op: "set", route: prev } : { op: "remove", key: route.key };
        await Promise.all(replies.filter((x) => !failure(x.r)).map((x) => x.link.call(undo)));
        throw new ProxyControlError(failed.status, failed.error);
      }
      this.routes.set(route.key, route);
      this.manageAcme(route.key, route);
      this.log.info("route set", { route: route.key, workers: replies.length });
      await this.snapshot();
    });
  }

  removeRoute(key: string): Promise<void> {
    return this.serial(async () => {
      if (!this.routes.has(key)) return;
      await this.broadcast({ op: "remove", key });
      this.routes.delete(key);
      this.manageAcme(key, undefined);
      this.log.info("route removed", { route: key });
      await this.snapshot();
    });
  }

  private manageAcme(key: string, route: Route | undefined): void {
    const sig = acmeSig(route);
    const cur = this.managed.get(key);
    if (cur?.sig === sig) return;
    cur?.stop();
    this.managed.delete(key);
    if (!route || !sig) {
      this.certs.delete(key);
      return;
    }
    this.managed.set(key, { sig, stop: this.acme.manage(route) });
  }

  private onCert(route: string, pem: CertPem): void {
    if (!this.routes.has(route) || this.closed) return;
    this.certs.set(route, pem);
    void this.broadcast({ op: "cert", route, pem }).then((rs) => {
      for (const { link, r } of rs) {
        const f = failure(r);
        if (f)
          this.log.error("a worker process could not load the certificate", {
            worker: link.pid,
            route,
            error: f.error,
          });
      }
    });
  }

  private async onToken(token: string, keyAuth: string | undefined): Promise<void> {
    if (keyAuth === undefined) this.tokens.delete(token);
    else this.tokens.set(token, keyAuth);
    await this.broadcast({ op: "token", token, keyAuth });
  }

  getRoutes(): Route[] {
    return [...this.routes.values()];
  }

  private async merged(): Promise<MetricTarget[]> {
    const rs = await this.broadcast({ op: "stats" });
    return mergeStats(rs.flatMap(({ r }) => ("ok" in r && r.ok ? [r.value as WorkerStats] : [])));
  }

  async stats(): Promise<TargetStats[]> {
    return publicStats(await this.merged());
  }

  async metrics(): Promise<string> {
    const live = [...this.links].filter((l) => l.live).length;
    return (
      prometheusText(await this.merged(), this.routes.size) +
      "# HELP slipway_proxy_workers Worker processes serving (several worker processes only).\n" +
      `# TYPE slipway_proxy_workers gauge\nslipway_proxy_workers ${live}\n`
    );
  }

  /** Light (no histograms): `GET /health` asks it, and the daemon asks for health often. */
  async workers(): Promise<WorkerInfo[]> {
    const rs = await this.broadcast({ op: "info" });
    return rs.flatMap(({ link, r }) =>
      "ok" in r && r.ok ? [{ pid: link.pid, requests: r.value as number }] : [],
    );
  }

  async waitDrained(targets: string[], timeoutMs: number): Promise<{ drained: boolean; inFlight: number }> {
    const rs = await this.broadcast({ op: "waitDrained", targets, timeoutMs });
    let inFlight = 0;
    for (const { r } of rs) if ("ok" in r && r.ok) inFlight += (r.value as { inFlight: number }).inFlight;
    return { drained: inFlight === 0, inFlight };
  }

  private async snapshot(): Promise<void> {
    try {
      await saveSnapshot(this.paths.snapshot, this.getRoutes());
    } catch (e) {
      this.log.error("could not write the routing snapshot", {
        file: this.paths.snapshot,
        error: (e as Error).message,
      });
      throw new ProxyControlError(500, `could not write ${this.paths.snapshot}: ${(e as Error).message}`);
    }
  }

  /** Every worker drains (graceful) and exits; one still running after the budget is killed. */
  async close(opts: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.acme.close();
    for (const m of this.managed.values()) m.stop();
    const graceful = opts.graceful ?? true;
    const maxDrain = Math.max(0, ...this.getRoutes().map((r) => r.drainTimeoutMs));
    const budget = (graceful ? (opts.timeoutMs ?? maxDrain) : 0) + 5_000;
    const links = [...this.links];
    for (const l of links) l.live = true;
    void this.broadcast({ op: "close", graceful, timeoutMs: opts.timeoutMs });
    const killer = setTimeout(() => links.forEach((l) => l.kill()), budget);
    await Promise.all(links.map((l) => l.exited));
    clearTimeout(killer);
    await this.closeControl();
  }
}

/** Start the primary: workers first, control socket last (once it answers, the table is in place). */
export async function startClusterProxy(opts: {
  home: string;
  workers: number;
  logger?: Logger;
}): Promise<ClusterProxy> {
  const log = opts.logger ?? silentLogger;
  return serveProxy(
    opts.home,
    log,
    () => new ClusterProxy(opts.home, log, opts.workers),
    (p) => p.start(),
    { workers: opts.workers },
  );
}
