/**
 * The HTTP hot path: pick a target, forward the request with streamed bodies, stream the
 * answer back, count it. A connection that fails before any byte reached an upstream is
 * retried on another target — that is what makes a switch between slots lossless.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Slot } from "./contract.js";
import { unwatch, watch, type Timed } from "./deadlines.js";
import { sendPage } from "./pages.js";
import { proxiedAddress } from "./proxy-protocol.js";
import type { RouteState } from "./route-state.js";
import type { Target } from "./target.js";
import type { UpstreamConn, UpstreamSink } from "./upstream.js";

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, never forwarded. */
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);
const REFUSED = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** The listener a request came in on, as the hot path needs it. */
export interface Via {
  /** The listener is closing: answers say `Connection: close`. */
  readonly closing: boolean;
  /** TLS listener: X-Forwarded-Proto https, HSTS. */
  readonly https: boolean;
}

export function clientIp(socket: Socket): string {
  const a = proxiedAddress(socket) ?? socket.remoteAddress ?? "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

/** Extra hop-by-hop names a `Connection` header lists (beyond keep-alive/close/upgrade). */
function connectionTokens(v: string): string[] | undefined {
  const l = v.toLowerCase();
  if (l === "keep-alive" || l === "close" || l === "upgrade") return undefined;
  return l
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** What the hot path needs from a request's headers, read in the same pass that copies them. */
export interface RequestFacts {
  /** The upstream request's headers as a flat [name, value, …] list. */
  headers: string[];
  hasBody: boolean;
  /** The body goes upstream chunked (the client's framing is gone once node:http has read it). */
  chunked: boolean;
  cookie: string | undefined;
}

/**
 * Headers for the upstream request as a flat [name, value, …] list (Node writes such a list
 * as is, which is much cheaper than an object): end-to-end headers plus X-Forwarded-*.
 * One pass over rawHeaders: touching `req.headers` would make Node build a second, lower-cased
 * copy of every header on every request.
 */
export function upstreamHeaders(req: IncomingMessage, https = false): RequestFacts {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let extra: string[] | undefined;
  let xff: string | undefined;
  let host: string | undefined;
  let cookie: string | undefined;
  let contentLength: string | undefined;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const k = name.toLowerCase();
    if (k.charCodeAt(0) === 58) {
      // HTTP/2 pseudo-headers: the authority becomes the Host of the HTTP/1.1 request upstream.
      if (k === ":authority" && host === undefined) out.push("Host", (host = value));
      continue;
    }
    switch (k) {
      case "host":
        if (host !== undefined) continue;
        host = value;
        break;
      case "cookie":
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case "content-length":
        contentLength = value;
        break;
      case "transfer-encoding":
        chunked = true;
        break;
      case "x-forwarded-for":
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case "x-forwarded-proto":
      case "x-forwarded-host":
        continue;
      case "connection":
        extra = connectionTokens(value);
        continue;
      default:
        if (HOP.has(k)) continue;
    }
    out.push(name, value);
  }
  if (extra) {
    const drop = extra;
    for (let i = out.length - 2; i >= 0; i -= 2) if (drop.includes(out[i].toLowerCase())) out.splice(i, 2);
  }
  const ip = clientIp(req.socket);
  out.push("X-Forwarded-For", xff ? `${xff}, ${ip}` : ip, "X-Forwarded-Proto", https ? "https" : "http");
  if (host !== undefined) out.push("X-Forwarded-Host", host);
  const hasBody =
    req.httpVersionMajor === 2
      ? contentLength !== "0" &&
        !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders
      : contentLength !== undefined
        ? contentLength !== "0"
        : chunked;
  // An HTTP/2 body of unknown length is sent chunked; HTTP/1.1 keeps the client's Transfer-Encoding.
  if (hasBody && chunked === false && contentLength === undefined) {
    out.push("Transfer-Encoding", "chunked");
    chunked = true;
  }
  return { headers: out, hasBody, cookie, chunked: hasBody && chunked };
}

function downstreamHeaders(
  raw: string[],
  close: boolean,
  cookie: string | undefined,
  h2: boolean,
  hsts: number,
): string[] {
  const out: string[] = [];
  let extra: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (k === "connection") extra = connectionTokens(raw[i + 1]);
    if (HOP.has(k)) continue;
    // HTTP/2 frames the body itself and forbids connection-specific headers (RFC 9113 §8.2.2).
    if (h2 && k === "transfer-encoding") continue;
    out.push(raw[i], raw[i + 1]);
  }
  if (extra) {
    const drop = extra;
    for (let i = out.length - 2; i >= 0; i -= 2) if (drop.includes(out[i].toLowerCase())) out.splice(i, 2);
  }
  if (close && !h2) out.push("Connection", "close");
  if (cookie) out.push("Set-Cookie", cookie);
  if (hsts > 0) out.push("Strict-Transport-Security", `max-age=${hsts}`);
  return out;
}

/** The request head as sent upstream, in one string (written with one system call). */
function requestHead(req: IncomingMessage, headers: string[]): string {
  let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return head + "\r\n";
}

/** Bytes a request target may hold (node:http's own check for outgoing paths). */
const INVALID_PATH = /[^\u0021-\u00ff]/;

/** One client request and its attempts upstream. */
class Exchange implements UpstreamSink, Timed {
  private tried: Set<Target> | undefined;
  private target!: Target;
  private up: UpstreamConn | undefined;
  private start = 0;
  private connected = false;
  private responded = false;
  private complete = false;
  private status = 0;
  /** A body chunk not written yet: when the whole body came in one read, it goes out with end(). */
  private held: Buffer | undefined;
  private timedOut = false;
  private clientGone = false;
  private settled = true;
  deadline = 0;
  timedPrev: Timed | undefined = undefined;
  timedNext: Timed | undefined = undefined;
  private readonly head: string;
  private readonly chunked: boolean;
  private readonly hasBody: boolean;
  private readonly sticky: Slot | undefined | null;

  constructor(
    private readonly rs: RouteState,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly via: Via,
  ) {
    const facts = upstreamHeaders(req, via.https);
    this.head = requestHead(req, facts.headers);
    this.chunked = facts.chunked;
    this.hasBody = facts.hasBody;
    this.sticky = rs.stickySlot(facts.cookie);
    res.on("close", this.onClientClose);
  }

  run(): void {
    if (this.req.httpVersionMajor === 2 && INVALID_PATH.test(this.req.url ?? "")) {
      sendPage(this.req, this.res, 400, this.rs.route.key, this.via.closing);
      return;
    }
    const t = this.rs.balancer.pick(Date.now(), this.sticky ?? undefined, this.tried);
    if (!t) {
      sendPage(this.req, this.res, this.tried ? 502 : 503, this.rs.route.key, this.via.closing);
      return;
    }
    this.dispatch(t);
  }

  private dispatch(t: Target): void {
    this.target = t;
    this.connected = false;
    this.settled = false;
    t.inFlight++;
    this.start = performance.now();
    const up = t.pool.acquire();
    this.up = up;
    watch(this, this.rs.route.responseTimeoutMs);
    up.begin(this, this.req.method ?? "GET");
  }

  upConnected(): void {
    this.connected = true;
    const up = this.up!;
    // Bodiless requests are sent at once; a body is read from the client only once the
    // upstream connection exists, so a refused connection can still be retried elsewhere.
    up.sendHead(this.head, this.chunked, !this.hasBody);
    if (!this.hasBody || this.clientGone) return;
    const req = this.req;
    const resume = () => req.resume();
    req.on("data", (chunk: Buffer) => {
      if (this.up === up && !up.sendBody(chunk)) {
        req.pause();
        up.socket.once("drain", resume);
      }
    });
    req.on("end", () => {
      if (this.up === up) up.endBody();
    });
  }

  expire(): void {
    this.timedOut = true;
    this.up?.abort();
    this.upError(Object.assign(new Error("upstream response timeout"), { code: "ETIMEDOUT" }));
  }

  upHead(status: number, message: string, raw: string[]): void {
    unwatch(this);
    this.responded = true;
    this.status = status;
    const t = this.target;
    t.succeeded();
    let cookie: string | undefined;
    if (this.sticky !== null && this.sticky !== t.slot) cookie = this.rs.cookieFor(t.slot);
    if (this.clientGone) {
      this.up?.abort();
      this.settle(-1);
      return;
    }
    const h2 = this.req.httpVersionMajor === 2;
    const hsts = this.via.https ? (this.rs.route.edge?.hstsSeconds ?? 0) : 0;
    const headers = downstreamHeaders(raw, this.via.closing, cookie, h2, hsts);
    if (h2) this.res.writeHead(status, headers);
    else this.res.writeHead(status, message, headers);
  }

  upData(chunk: Buffer): void {
    if (this.held === undefined) {
      this.held = chunk;
      return;
    }
    this.write(this.held);
    this.held = chunk;
  }

  upRead(): void {
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    this.write(h);
  }

  private write(chunk: Buffer): void {
    const res = this.res;
    if (this.clientGone || res.write(chunk)) return;
    // Backpressure: stop reading the upstream until the client has taken what it got.
    const sock = this.up?.socket;
    if (!sock) return;
    sock.pause();
    res.once("drain", () => sock.resume());
  }

  upEnd(): void {
    this.complete = true;
    this.up = undefined;
    const h = this.held;
    this.held = undefined;
    if (this.clientGone) return;
    this.res.end(h);
    this.settle(this.status);
  }

  upError(err: NodeJS.ErrnoException): void {
    unwatch(this);
    if (this.settled) return;
    const t = this.target;
    const up = this.up;
    this.up = undefined;
    if (this.clientGone) {
      this.settle(-1);
      return;
    }
    if (this.responded) {
      this.res.destroy();
      this.settle(0);
      return;
    }
    const now = Date.now();
    if (this.timedOut) {
      t.failed(now, false);
      this.settle(0);
      sendPage(this.req, this.res, 504, this.rs.route.key, this.via.closing);
      return;
    }
    const neverSent = !this.connected;
    // A reused keep-alive connection the upstream closed (it timed out or is shutting down):
    // an idempotent bodiless request can be replayed safely.
    const staleReuse =
      this.connected && !this.hasBody && up?.reused === true && IDEMPOTENT.has(this.req.method ?? "");
    if (!staleReuse) t.failed(now, neverSent && err.code !== undefined && REFUSED.has(err.code));
    this.settle(staleReuse ? -1 : 0);
    if (neverSent || staleReuse) {
      (this.tried ??= new Set()).add(t);
      this.run();
      return;
    }
    sendPage(this.req, this.res, 502, this.rs.route.key, this.via.closing);
  }

  private onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    if (!this.settled) {
      unwatch(this);
      // The client left: not the target's fault, so not counted against it.
      this.settle(-1);
      this.up?.abort();
      this.up = undefined;
    }
  };

  /** status: upstream status, 0 = error counted against the target, -1 = not counted. */
  private settle(status: number): void {
    if (this.settled) return;
    this.settled = true;
    if (status >= 0) this.target.done(status, performance.now() - this.start);
    this.target.release();
  }
}

export function forwardHttp(rs: RouteState, req: IncomingMessage, res: ServerResponse, via: Via): void {
  new Exchange(rs, req, res, via).run();
}
