/**
 * The Slipway proxy: one listener per route, the routing table, draining, stats, and the
 * control socket. `startProxy` (start.ts) runs it in the current process; src/proxy/main.ts is
 * the stand-alone process the daemon talks to through ProxyClient.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../logger.js";
import type { ProxyServer, Route, TargetStats } from "./contract.js";
import { AcmeManager, type CertPem } from "./acme.js";
import { CertStore, loadPem } from "./certs.js";
import { Edge } from "./edge.js";
import { forwardHttp, type Via } from "./forward.js";
import { prometheusText, type MetricTarget } from "./metrics.js";
import { asNode, RawHttpServer, type RawRequest, type RawResponse } from "./raw-http.js";
import { sendPage } from "./pages.js";
import { ProxyControlError, proxyPaths } from "./paths.js";
import { RouteState } from "./route-state.js";
import { loadSnapshot, parseRoute, saveSnapshot } from "./routes.js";
import { Target } from "./target.js";
import { forwardUpgrade } from "./websocket.js";
import { sleep } from "../util/sleep.js";

export type { ProxyServer } from "./contract.js";

const addrOf = (r: Route) => `${r.listen.host}:${r.listen.port}`;

class Listener implements Via {
  closing = false;
  readonly https = false;
  constructor(
    readonly addr: string,
    readonly server: RawHttpServer,
  ) {}
}

/**
 * The data plane and, in a single process, the control plane too. A worker process
 * (`worker` = true, see cluster-worker.ts) writes no snapshot and runs no ACME client: the
 * primary does, and pushes certificates and challenge tokens here.
 */
export class Proxy implements ProxyServer {
  readonly socketPath: string;
  private readonly snapshotPath: string;
  private readonly routes = new Map<string, RouteState>();
  private readonly listeners = new Map<RouteState, Listener>();
  private readonly draining = new Set<Target>();
  private readonly certs: CertStore;
  private readonly acme: AcmeManager | undefined;
  /** Pending ACME HTTP-01 tokens pushed by the primary (worker processes). */
  private readonly tokens = new Map<string, string>();
  private readonly edge: Edge;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  closeControl: () => Promise<void> = async () => {};

  constructor(
    home: string,
    private readonly log: Logger,
    private readonly worker = false,
  ) {
    const p = proxyPaths(home);
    this.socketPath = p.socket;
    this.snapshotPath = p.snapshot;
    this.certs = new CertStore(log);
    const acme = worker ? undefined : new AcmeManager(p.acme, log, (key, c) => this.certs.put(key, c));
    this.acme = acme;
    this.edge = new Edge({
      log,
      certs: this.certs,
      challenge: (token) => (acme ? acme.challenge(token) : this.tokens.get(token)),
      acme: (route) => (acme ? acme.manage(route) : () => {}),
    });
  }

  /** Control calls are applied one at a time, in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  setRoute(input: Route): Promise<void> {
    const parsed = parseRoute(input);
    if ("error" in parsed) return Promise.reject(new ProxyControlError(400, parsed.error));
    return this.serial(async () => {
      await this.apply(parsed.route, false);
      await this.snapshot();
    });
  }

  removeRoute(key: string): Promise<void> {
    return this.serial(async () => {
      const rs = this.routes.get(key);
      if (!rs) return;
      this.routes.delete(key);
      for (const t of rs.targets.values()) this.drain(t, rs.route.drainTimeoutMs);
      rs.targets = new Map();
      rs.balancer.update([], 0);
      const l = this.listeners.get(rs);
      if (l) this.retire(rs, l, rs.route.drainTimeoutMs);
      this.edge.detach(key, rs.route.drainTimeoutMs);
      this.log.info("route removed", { route: key });
      await this.snapshot();
    });
  }

  /** Apply a valid route. `restoring`: a bind failure is retried later instead of refused. */
  private async apply(route: Route, restoring: boolean): Promise<void> {
    if (this.closed) throw new ProxyControlError(503, "the proxy is shutting down");
    const addr = addrOf(route);
    this.assertNoConflict(route);
    let rs = this.routes.get(route.key);
    const oldListener = rs ? this.listeners.get(rs) : undefined;
    let listener: Listener | undefined;
    if (!oldListener || oldListener.addr !== addr) {
      try {
        listener = await this.bind(route);
      } catch (e) {
        const msg = `route "${route.key}": cannot listen on ${addr}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
        if (!restoring) throw new ProxyControlError(409, msg);
        this.log.error(msg + " (will retry)", { route: route.key });
      }
    }
    const state = rs ?? new RouteState(route);
    try {
      await this.edge.attach(state, route);
    } catch (e) {
      if (!restoring) {
        listener?.server.close();
        throw e;
      }
      this.log.error("could not attach the route's domains", {
        route: route.key,
        error: (e as Error).message,
      });
    }
    if (!rs) this.routes.set(route.key, (rs = state));
    const next = new Map<string, Target>();
    for (const rt of route.targets) {
      const existing = rs.targets.get(rt.id);
      if (existing && existing.url === rt.url) {
        existing.slot = rt.slot;
        next.set(rt.id, existing);
      } else next.set(rt.id, new Target(route.key, rt));
    }
    for (const [id, t] of rs.targets) if (next.get(id) !== t) this.drain(t, route.drainTimeoutMs);
    rs.targets = next;
    rs.route = route;
    rs.balancer.update([...next.values()], route.candidateWeight);
    if (listener) {
      this.listeners.set(rs, listener);
      this.wire(listener, rs);
      if (oldListener) this.retire(rs, oldListener, route.drainTimeoutMs);
    } else if (!oldListener || oldListener.addr !== addr) this.retryBind(rs);
    this.log.info("route set", {
      route: route.key,
      listen: addr,
      targets: route.targets.map((t) => `${t.id}(${t.slot})`).join(" "),
      candidateWeight: route.candidateWeight,
    });
  }

  private assertNoConflict(route: Route): void {
    const addr = addrOf(route);
    const shared = new Set(
      [route.edge?.http, route.edge?.https].flatMap((l) => (l ? [`${l.host}:${l.port}`] : [])),
    );
    if (shared.has(addr))
      throw new ProxyControlError(
        409,
        `route "${route.key}": ${addr} is both its own port and a shared listener`,
      );
    for (const [k, other] of this.routes) {
      if (k === route.key) continue;
      const a = addrOf(other.route);
      if (a === addr)
        throw new ProxyControlError(409, `route "${route.key}": ${addr} is already served by route "${k}"`);
      if (shared.has(a))
        throw new ProxyControlError(
          409,
          `route "${route.key}": ${a} is the own port of route "${k}", not a shared listener`,
        );
    }
    const c = this.edge.conflict(route);
    if (c) throw new ProxyControlError(409, c);
  }

  private bind(route: Route): Promise<Listener> {
    const server = new RawHttpServer();
    const l = new Listener(addrOf(route), server);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(route.listen.port, route.listen.host, () => {
        server.off("error", reject);
        server.on("error", (e) => this.log.error("listener error", { listen: l.addr, error: e.message }));
        resolve(l);
      });
    });
  }

  private wire(l: Listener, rs: RouteState): void {
    l.server.on("request", (rawReq: RawRequest, rawRes: RawResponse) => {
      const [req, res] = asNode(rawReq, rawRes);
      // Look the route up per request: a replaced route applies to the very next request.
      const cur = this.routes.get(rs.route.key) === rs ? rs : undefined;
      if (!cur) sendPage(req, res, 503, rs.route.key, true);
      else forwardHttp(cur, req, res, l);
    });
    l.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.routes.get(rs.route.key) !== rs || l.closing) socket.destroy();
      else forwardUpgrade(rs, req, socket, head);
    });
  }

  private retryBind(rs: RouteState): void {
    const t = setTimeout(async () => {
      if (this.closed || this.routes.get(rs.route.key) !== rs || this.listeners.has(rs)) return;
      try {
        const l = await this.bind(rs.route);
        if (this.closed || this.routes.get(rs.route.key) !== rs || this.listeners.has(rs)) {
          l.server.close();
          return;
        }
        this.listeners.set(rs, l);
        this.wire(l, rs);
        this.log.info("listener bound", { route: rs.route.key, listen: l.addr });
      } catch {
        this.retryBind(rs);
      }
    }, 1_000);
    t.unref();
  }

  /** Stop accepting on a listener; connections still busy get until the drain timeout. */
  private retire(rs: RouteState, l: Listener, timeoutMs: number): void {
    l.closing = true;
    if (this.listeners.get(rs) === l) this.listeners.delete(rs);
    l.server.close();
    l.server.closeIdleConnections();
    setTimeout(() => l.server.closeAllConnections(), timeoutMs).unref();
  }

  private drain(t: Target, timeoutMs: number): void {
    if (t.draining) return;
    t.draining = true;
    this.draining.add(t);
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (!this.draining.delete(t)) return;
      clearTimeout(timer);
      t.onIdle = undefined;
      for (const s of [...t.sockets]) s.goingAway();
      // Requests still running past the drain timeout are cut here.
      t.pool.destroy();
      this.log.info("target drained", { route: t.route, target: t.id, inFlight: t.inFlight });
    };
    if (t.inFlight === 0) setImmediate(finish);
    else {
      t.onIdle = finish;
      timer = setTimeout(finish, timeoutMs);
    }
  }

  getRoutes(): Route[] {
    return [...this.routes.values()].map((rs) => rs.route);
  }

  private allTargets(): Target[] {
    const out: Target[] = [];
    for (const rs of this.routes.values()) for (const t of rs.targets.values()) out.push(t);
    for (const t of this.draining) out.push(t);
    return out;
  }

  stats(): TargetStats[] {
    const now = Date.now();
    return this.allTargets().map((t) => t.stats(now));
  }

  async waitDrained(targetIds: string[], timeoutMs: number): Promise<{ drained: boolean; inFlight: number }> {
    const ids = new Set(targetIds);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let inFlight = 0;
      for (const t of this.allTargets()) if (ids.has(t.id)) inFlight += t.inFlight;
      if (inFlight === 0) return { drained: true, inFlight: 0 };
      if (Date.now() >= deadline) return { drained: false, inFlight };
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  metrics(): string {
    return prometheusText(this.metricTargets(), this.routes.size);
  }

  /** Stats with the exact latency sums (what a worker process reports to the primary). */
  metricTargets(): MetricTarget[] {
    const now = Date.now();
    return this.allTargets().map((t) => ({ ...t.stats(now), latencySumMs: t.latency.sum }));
  }

  /** Requests answered through the targets this process still knows. */
  requestCount(): number {
    return this.allTargets().reduce((a, t) => a + t.requests, 0);
  }

  /** A certificate issued by the primary's ACME client (worker processes). */
  putCert(route: string, pem: CertPem): void {
    this.certs.put(route, loadPem(pem.cert, pem.key, []));
  }

  setChallenge(token: string, keyAuth: string | undefined): void {
    if (keyAuth === undefined) this.tokens.delete(token);
    else this.tokens.set(token, keyAuth);
  }

  private async snapshot(): Promise<void> {
    if (this.worker) return;
    try {
      await saveSnapshot(this.snapshotPath, this.getRoutes());
    } catch (e) {
      this.log.error("could not write the routing snapshot", {
        file: this.snapshotPath,
        error: (e as Error).message,
      });
      throw new ProxyControlError(500, `could not write ${this.snapshotPath}: ${(e as Error).message}`);
    }
  }

  async restore(): Promise<void> {
    const { routes, problems } = await loadSnapshot(this.snapshotPath);
    for (const p of problems) this.log.warn(p);
    await this.restoreRoutes(routes);
    if (routes.length) this.log.info("routes restored", { count: routes.length, file: this.snapshotPath });
  }

  /** Apply routes known to be valid; a listener that cannot bind now is retried, not refused. */
  async restoreRoutes(routes: Route[]): Promise<void> {
    for (const r of routes) {
      try {
        await this.apply(r, true);
      } catch (e) {
        this.log.error("could not restore route", { route: r.key, error: (e as Error).message });
      }
    }
  }

  async close(opts: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const graceful = opts.graceful ?? true;
    const maxDrain = Math.max(0, ...[...this.routes.values()].map((rs) => rs.route.drainTimeoutMs));
    const budget = graceful ? (opts.timeoutMs ?? maxDrain) : 0;
    const ls = [...this.listeners.values()];
    this.listeners.clear();
    const shared = this.edge.close();
    this.acme?.close();
    for (const l of ls) {
      l.closing = true;
      l.server.close();
      l.server.closeIdleConnections();
    }
    const all = this.allTargets();
    const deadline = Date.now() + budget;
    while (graceful && Date.now() < deadline && all.some((t) => t.inFlight > 0)) await sleep(20);
    let sockets = 0;
    for (const t of all) {
      sockets += t.sockets.size;
      for (const s of [...t.sockets]) s.goingAway();
    }
    if (graceful && sockets) {
      const until = Date.now() + 2_000;
      while (Date.now() < until && all.some((t) => t.sockets.size > 0)) await sleep(20);
    }
    for (const l of ls) l.server.closeAllConnections();
    Edge.destroy(shared);
    for (const t of all) t.pool.destroy();
    await this.closeControl();
  }
}
