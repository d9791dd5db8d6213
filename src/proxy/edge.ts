/**
 * The shared listeners of the machine: an (address, port) named by any number of routes, each
 * reached by its domains (Host header; SNI picks the certificate on HTTPS). Plain HTTP and
 * HTTPS (HTTP/2 or HTTP/1.1 by ALPN); an unknown host gets a 404 page, never another app.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createSecureServer } from "node:http2";
import type { Http2SecureServer, Http2ServerRequest } from "node:http2";
import { createServer as createNetServer } from "node:net";
import type { Server as NetServer, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../logger.js";
import type { CertStore } from "./certs.js";
import type { Route, RouteEdge } from "./contract.js";
import { fastAccept } from "./fast-accept.js";
import { forwardHttp, type Via } from "./forward.js";
import { sendPage } from "./pages.js";
import { ProxyControlError } from "./paths.js";
import { acceptProxied } from "./proxy-protocol.js";
import { RawHttpServer } from "./raw-http.js";
import type { RouteState } from "./route-state.js";
import { forwardUpgrade } from "./websocket.js";

export const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/**
 * HTTP/1.1 over TLS is served by the proxy's own HTTP/1.1 server side (raw-http.ts), HTTP/2 by
 * node:http2. node:http2's HTTP/1.1 fallback (`allowHTTP1`) is node:http's server, whose
 * per-request objects cost half as much CPU again as the raw side (bench/RESULTS.md, issue 14).
 * The secure server's one `secureConnection` listener is its HTTP/2 session set-up (and that
 * fallback); it keeps the HTTP/2 connections. A Node whose server is built otherwise keeps
 * node's own fallback.
 */
function splitAlpn(tls: Http2SecureServer, h1: RawHttpServer): void {
  const own = tls.listeners("secureConnection");
  if (own.length !== 1) return;
  const h2 = own[0] as (this: Http2SecureServer, sock: TLSSocket) => void;
  tls.removeAllListeners("secureConnection");
  tls.on("secureConnection", (sock: TLSSocket) =>
    sock.alpnProtocol === "h2" ? h2.call(tls, sock) : h1.accept(sock),
  );
}
type Kind = "http" | "https";

/** The host name a request asked for: lower-case, without port or trailing dot. */
export function hostOf(req: IncomingMessage): string | undefined {
  let h: string | undefined;
  if (req.httpVersionMajor === 2) h = (req as unknown as Http2ServerRequest).authority;
  else {
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i].length === 4 && raw[i].toLowerCase() === "host") {
        h = raw[i + 1];
        break;
      }
  }
  if (!h) return undefined;
  if (h[0] === "[") return h.slice(0, h.indexOf("]") + 1).toLowerCase();
  const colon = h.indexOf(":");
  let name = colon >= 0 ? h.slice(0, colon) : h;
  if (name.endsWith(".")) name = name.slice(0, -1);
  return name.toLowerCase();
}

class Shared implements Via {
  readonly hosts = new Map<string, RouteState>();
  readonly sockets = new Set<Socket>();
  closing = false;
  readonly https: boolean;
  constructor(
    readonly kind: Kind,
    readonly addr: string,
    readonly proxyProtocol: boolean,
    readonly raw: NetServer,
  ) {
    this.https = kind === "https";
  }
}

export interface EdgeDeps {
  log: Logger;
  certs: CertStore;
  /** The key authorization of a pending ACME HTTP-01 challenge. */
  challenge(token: string): string | undefined;
  /** Start managing a route's ACME certificate (idempotent); the returned function stops it. */
  acme(route: Route): () => void;
}

const listenersOf = (e: RouteEdge): [Kind, { host: string; port: number }][] => [
  ...(e.http ? [["http", e.http] as [Kind, { host: string; port: number }]] : []),
  ...(e.https ? [["https", e.https] as [Kind, { host: string; port: number }]] : []),
];
const addrOf = (l: { host: string; port: number }) => `${l.host}:${l.port}`;

export class Edge {
  private readonly shared = new Map<string, Shared>();
  /** Per route key: the listeners and domains it holds, and the TLS setup it was given. */
  private readonly held = new Map<string, { addrs: string[]; domains: string[]; tls?: string }>();

  constructor(private readonly deps: EdgeDeps) {}

  isShared(addr: string): boolean {
    return this.shared.has(addr);
  }

  /** Why this route cannot attach (a 409 message), or undefined. Changes nothing. */
  conflict(route: Route): string | undefined {
    if (this.shared.has(addrOf(route.listen)))
      return `route "${route.key}": ${addrOf(route.listen)} is a shared listener (proxy.http/https), not a free port`;
    const e = route.edge;
    if (!e) return undefined;
    for (const [kind, l] of listenersOf(e)) {
      const s = this.shared.get(addrOf(l));
      if (!s) continue;
      if (s.kind !== kind)
        return `route "${route.key}": ${s.addr} is a shared ${s.kind} listener, not ${kind}`;
      if (s.proxyProtocol !== e.proxyProtocol)
        return `route "${route.key}": ${s.addr} is shared ${s.proxyProtocol ? "with" : "without"} PROXY protocol; every environment on it must agree`;
      for (const d of e.domains) {
        const other = s.hosts.get(d);
        if (other && other.route.key !== route.key)
          return `domain ${d} is already routed on ${s.addr} by route "${other.route.key}"`;
      }
    }
    return undefined;
  }

  /** Attach or re-attach a route: certificates, listeners, then its domains. Throws before changing anything. */
  async attach(rs: RouteState, route: Route): Promise<void> {
    const e = route.edge;
    const prev = this.held.get(route.key);
    const tlsSig = e?.https && e.tls ? JSON.stringify([e.tls, e.domains]) : undefined;
    if (tlsSig !== prev?.tls) this.useTls(route, tlsSig !== undefined);
    const wanted: Shared[] = [];
    const fresh: Shared[] = [];
    try {
      for (const [kind, l] of e ? listenersOf(e) : []) {
        let s = this.shared.get(addrOf(l));
        if (!s) {
          s = await this.bind(kind, l.host, l.port, e?.proxyProtocol ?? false);
          fresh.push(s);
        }
        wanted.push(s);
      }
    } catch (err) {
      for (const s of fresh) this.retire(s, 0);
      throw err;
    }
    const domains = e?.domains ?? [];
    this.release(route.key, new Set(wanted), new Set(domains));
    for (const s of wanted) for (const d of domains) s.hosts.set(d, rs);
    this.held.set(route.key, { addrs: wanted.map((s) => s.addr), domains, tls: tlsSig });
  }

  detach(key: string, drainMs: number): void {
    this.release(key, new Set(), new Set(), drainMs);
    this.held.delete(key);
    this.deps.certs.release(key);
  }

  close(): Shared[] {
    const all = [...this.shared.values()];
    for (const s of all) {
      s.closing = true;
      s.raw.close();
    }
    this.shared.clear();
    this.deps.certs.close();
    return all;
  }

  /** Destroy what is left on closed listeners. */
  static destroy(list: Shared[]): void {
    for (const s of list) for (const sock of s.sockets) sock.destroy();
  }

  private useTls(route: Route, on: boolean): void {
    const e = route.edge;
    const tls = e?.tls;
    if (!on || !e || !tls) return this.deps.certs.release(route.key);
    if ("cert" in tls) {
      try {
        this.deps.certs.useFiles(route.key, e.domains, tls.cert, tls.key);
      } catch (err) {
        throw new ProxyControlError(400, `route "${route.key}": ${(err as Error).message}`);
      }
      return;
    }
    if (!e.http)
      throw new ProxyControlError(
        400,
        `route "${route.key}": ACME (HTTP-01) needs the plain HTTP listener: set proxy.http (port 80 as the CA sees it)`,
      );
    this.deps.certs.useManaged(route.key, e.domains, this.deps.acme(route));
  }

  /** Drop the domains of `key` that are not kept; retire listeners left without any. */
  private release(key: string, keep: Set<Shared>, keepDomains: Set<string>, drainMs = 30_000): void {
    const prev = this.held.get(key);
    if (!prev) return;
    for (const addr of prev.addrs) {
      const s = this.shared.get(addr);
      if (!s) continue;
      for (const d of prev.domains)
        if ((!keep.has(s) || !keepDomains.has(d)) && s.hosts.get(d)?.route.key === key) s.hosts.delete(d);
      if (s.hosts.size === 0 && !keep.has(s)) this.retire(s, drainMs);
    }
  }

  private retire(s: Shared, drainMs: number): void {
    if (this.shared.get(s.addr) === s) this.shared.delete(s.addr);
    s.closing = true;
    s.raw.close();
    this.deps.log.info("shared listener closed", { listen: s.addr });
    setTimeout(() => Edge.destroy([s]), drainMs).unref();
  }

  private bind(kind: Kind, host: string, port: number, proxyProtocol: boolean): Promise<Shared> {
    const h1 = new RawHttpServer();
    const tls =
      kind === "https"
        ? createSecureServer({
            allowHTTP1: true,
            SNICallback: this.deps.certs.sniFor(() => s.hosts.keys()),
            minVersion: "TLSv1.2",
          })
        : undefined;
    if (tls) splitAlpn(tls, h1);
    // Half-open plain connections: a client's FIN right after its request still gets the answer.
    const raw = createNetServer({ noDelay: true, allowHalfOpen: kind === "http" });
    const s: Shared = new Shared(kind, `${host}:${port}`, proxyProtocol, raw);
    const hand = (sock: Socket) => (tls ? tls.emit("connection", sock) : h1.accept(sock));
    raw.on("connection", (sock: Socket) => {
      s.sockets.add(sock);
      sock.once("close", () => s.sockets.delete(sock));
      if (!proxyProtocol) return hand(sock);
      acceptProxied(sock, hand, (m) => this.deps.log.warn("PROXY protocol", { listen: s.addr, error: m }));
    });
    for (const app of tls ? [h1, tls] : [h1]) {
      app.on("request", (req: IncomingMessage, res: ServerResponse) => this.onRequest(s, req, res));
      app.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const rs = s.closing ? undefined : s.hosts.get(hostOf(req) ?? "");
        if (!rs) socket.destroy();
        else forwardUpgrade(rs, req, socket, head, s.https);
      });
    }
    tls?.on("tlsClientError", () => {});
    tls?.on("clientError", (_err: Error, socket: Duplex) => socket.destroy());
    return new Promise((resolve, reject) => {
      raw.once("error", (e: NodeJS.ErrnoException) => {
        const hint =
          e.code === "EACCES" && port < 1024
            ? " (ports below 1024 need root, CAP_NET_BIND_SERVICE or systemd socket activation; see docs/proxy.md)"
            : "";
        reject(new ProxyControlError(409, `cannot listen on ${s.addr}: ${e.code ?? e.message}${hint}`));
      });
      raw.listen(port, host, () => {
        // Plain connections read through the shared buffer; TLS and PROXY-protocol ones (their
        // first bytes are read by something else) as usual.
        if (kind === "http" && !proxyProtocol) fastAccept(raw);
        raw.removeAllListeners("error");
        raw.on("error", (e) => this.deps.log.error("listener error", { listen: s.addr, error: e.message }));
        this.shared.set(s.addr, s);
        this.deps.log.info("shared listener bound", { listen: s.addr, kind, proxyProtocol });
        resolve(s);
      });
    });
  }

  private onRequest(s: Shared, req: IncomingMessage, res: ServerResponse): void {
    const host = hostOf(req);
    if (!s.https && req.url?.startsWith(CHALLENGE_PREFIX)) {
      const answer = this.deps.challenge(req.url.slice(CHALLENGE_PREFIX.length));
      if (answer !== undefined) {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": answer.length });
        res.end(answer);
        return;
      }
    }
    const rs = host === undefined ? undefined : s.hosts.get(host);
    if (!rs) return sendPage(req, res, 404, `host ${host ?? "(none)"} on ${s.addr}`, s.closing);
    const e = rs.route.edge;
    if (!s.https && e?.redirectHttp && e.https && this.deps.certs.has(host as string)) {
      const port = e.https.port === 443 ? "" : `:${e.https.port}`;
      const safe = req.method === "GET" || req.method === "HEAD";
      res.writeHead(safe ? 301 : 308, {
        location: `https://${host}${port}${req.url ?? "/"}`,
        "content-length": 0,
      });
      res.end();
      return;
    }
    forwardHttp(rs, req, res, s);
  }
}
