/**
 * The proxy's HTTP/1.1 server side for plain listeners: raw sockets and Node's own llhttp
 * parser (the one node:http uses), without node:http's IncomingMessage/ServerResponse stream
 * machinery — the same approach as upstream.ts on the client side. Requests on a connection
 * are handled one after the other (a pipelined request waits for the answer before it); a
 * response's head goes out with its first body bytes in one write.
 *
 * Only what the proxy's hot path, its pages and WebSocket upgrades use is offered (see
 * RawRequest/RawResponse); the objects are handed on typed as node:http's.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { createServer as createNetServer } from "node:net";
import type { Server as NetServer, Socket } from "node:net";
import { fastAccept, readsShared, setReader } from "./fast-accept.js";
import { RawRequest, RawResponse, type MessageConn } from "./raw-message.js";

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  close(): void;
  [k: number]: unknown;
}
interface ParserClass {
  new (): Parser;
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}
const common = createRequire(import.meta.url)("_http_common") as {
  HTTPParser: ParserClass;
  methods: string[];
};
const { HTTPParser, methods } = common;

/** Idle keep-alive connections are closed after this (node:http's default keepAliveTimeout). */
const KEEP_ALIVE_MS = 5_000;
/**
 * A new connection gets this long for its first request head (node:http's headersTimeout,
 * nginx's client_header_timeout): browsers open connections ahead of use and slow mobile
 * clients take seconds; after the first answer the keep-alive limit applies.
 */
const FIRST_REQUEST_MS = 60_000;
/**
 * Pipelined requests waiting behind the one being answered: at this many, or while the client is
 * not reading its answers (the socket's write buffer is full), the connection stops reading until
 * it catches up — as node:http does — so a client cannot queue requests without bound.
 */
const MAX_WAITING = 32;
const BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

type Pending = [RawRequest, RawResponse];

/** One client connection: a parser, the request being answered and the ones waiting behind it. */
export class RawConn implements MessageConn {
  private readonly parser: Parser;
  private current: RawResponse | undefined;
  private currentReq: RawRequest | undefined;
  private readonly waiting: Pending[] = [];
  private partial: string[] | undefined;
  private partialUrl = "";
  private last: RawRequest | undefined;
  private upgraded = false;
  /** Reads come through the shared buffer (fast-accept.ts), not 'data' events. */
  private readonly shared: boolean;
  /** The client sent its FIN: answer what it asked, then close. */
  private ending = false;
  /** Reading stopped until the queue and the write buffer catch up (see MAX_WAITING). */
  private backlogged = false;
  private drainWait = false;
  idleSince = performance.now();
  /** Answered at least one request (idle from then on means keep-alive idle). */
  served = false;

  constructor(
    readonly server: RawHttpServer,
    readonly socket: Socket,
  ) {
    const p = new HTTPParser();
    p.initialize(HTTPParser.REQUEST, {}, 0, 0);
    p[HTTPParser.kOnHeaders] = (h: string[], url: string) => {
      this.partial = this.partial ? this.partial.concat(h) : h;
      this.partialUrl += url;
    };
    p[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete;
    p[HTTPParser.kOnBody] = (b: Buffer) => this.last?.push(b);
    p[HTTPParser.kOnMessageComplete] = () => this.last?.finish();
    this.parser = p;
    // A connection of a fastAccept listener reads through the shared buffer (unless bytes already
    // went to its Readable side); any other (TLS, PROXY protocol) through 'data' events.
    this.shared = readsShared(socket) && socket.readableLength === 0;
    if (this.shared) setReader(socket, this.onChunk);
    else socket.on("data", this.onData);
    socket.on("error", () => socket.destroy());
    socket.on("close", this.onClose);
    socket.on("end", this.onEnd);
  }

  get busy(): boolean {
    return this.current !== undefined || this.waiting.length > 0;
  }

  /** One read in the shared buffer: parsed to the end here, no view of it kept. */
  private onChunk = (d: Buffer): boolean => {
    this.onData(d);
    return true; // backpressure pauses the socket instead (see MAX_WAITING)
  };

  private onData = (d: Buffer): void => {
    const r = this.parser.execute(d);
    if (typeof r !== "number") {
      this.stopReading();
      if (!this.busy && this.socket.writable) this.socket.end(BAD_REQUEST);
      else this.socket.destroy();
      return;
    }
    // The bytes after an upgrade's head go with the socket: copied out of the shared buffer.
    if (this.upgraded) this.upgrade(this.shared ? Buffer.from(d.subarray(r)) : d.subarray(r));
  };

  /** The parser lets go of the socket's reads (they go to its Readable side from now on). */
  private stopReading(): void {
    if (this.shared) setReader(this.socket, null);
    else this.socket.removeListener("data", this.onData);
  }

  private onHeadersComplete = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: number,
    _message: string,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    const h = this.partial ? (headers ? this.partial.concat(headers) : this.partial) : (headers ?? []);
    const u = this.partialUrl + (url ?? "");
    this.partial = undefined;
    this.partialUrl = "";
    const req = new RawRequest(this, methods[method] ?? "GET", u, h, major, minor, keepAlive && !upgrade);
    this.last = req;
    if (upgrade) {
      this.upgraded = true;
      return 0;
    }
    const res = new RawResponse(this, req);
    if (major === 1 && minor === 1 && expectsContinue(h)) this.socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    if (this.current) this.waiting.push([req, res]);
    else this.start(req, res);
    if (this.waiting.length >= MAX_WAITING || this.socket.writableNeedDrain) {
      this.backlogged = true;
      this.socket.pause();
    }
    return 0;
  };

  private start(req: RawRequest, res: RawResponse): void {
    this.current = res;
    this.currentReq = req;
    this.server.emit("request", req, res);
  }

  /** The connection is the upgrade's now: the parser and these listeners let go of it. */
  private upgrade(head: Buffer): void {
    const req = this.last!;
    this.stopReading();
    this.socket.removeListener("close", this.onClose);
    this.socket.removeListener("end", this.onEnd);
    this.server.forget(this);
    if (this.busy) return void this.socket.destroy();
    this.server.emit("upgrade", req, this.socket, head);
  }

  /** The exchange took its held body: reading may go on. */
  resumeHeld(): void {
    if (this.socket.isPaused() && !this.last?.holding && !this.backlogged) this.socket.resume();
  }

  responseDone(keepAlive: boolean): void {
    this.current = undefined;
    this.served = true;
    // A body nobody read (an error page answered before it): dropped, so the next request is read.
    this.currentReq?.discard();
    this.currentReq = undefined;
    if (!keepAlive || this.ending) {
      this.waiting.length = 0;
      this.socket.end();
      return;
    }
    const next = this.waiting.shift();
    if (next) this.start(next[0], next[1]);
    else this.idleSince = performance.now();
    this.catchUp();
  }

  /** Read again once fewer requests wait and the client has taken its answers. */
  private catchUp(): void {
    if (!this.backlogged || this.waiting.length >= MAX_WAITING) return;
    if (this.socket.writableNeedDrain) {
      if (!this.drainWait) this.socket.once("drain", this.onDrain);
      this.drainWait = true;
      return;
    }
    this.backlogged = false;
    this.resumeHeld();
  }

  private onDrain = (): void => {
    this.drainWait = false;
    this.catchUp();
  };

  /** Sockets are half-open capable (allowHalfOpen): a request sent before the FIN is still answered. */
  private onEnd = (): void => {
    if (this.busy) this.ending = true;
    else this.socket.end();
  };

  private onClose = (): void => {
    this.server.forget(this);
    const cur = this.current;
    this.current = undefined;
    cur?.closed();
    for (const [, res] of this.waiting.splice(0)) res.closed();
  };
}

function expectsContinue(raw: string[]): boolean {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length === 6 && raw[i].toLowerCase() === "expect")
      return raw[i + 1].toLowerCase() === "100-continue";
  return false;
}

/**
 * A plain HTTP/1.1 listener with node:http.Server's surface as the proxy uses it: `request`
 * and `upgrade` events (their objects typed as node:http's), listen, close and the two
 * connection-closing calls. Idle keep-alive connections are closed after 5 s by a sweep (a new
 * connection's first request head may take 60 s).
 */
export class RawHttpServer extends EventEmitter {
  private net: NetServer | undefined;
  closing = false;
  private readonly conns = new Set<RawConn>();
  private sweep: NodeJS.Timeout | undefined;

  /** Serve a connection accepted elsewhere (a shared listener, after its PROXY header if any). */
  accept(socket: Socket): void {
    this.conns.add(new RawConn(this, socket));
    this.sweep ??= setInterval(() => this.closeStale(), 1_000).unref();
  }

  listen(port: number, host: string, cb: () => void): this {
    const net = createNetServer({ noDelay: true, allowHalfOpen: true }, (s) => this.accept(s));
    this.net = net;
    net.on("error", (e) => this.emit("error", e));
    net.listen(port, host, () => {
      fastAccept(net);
      cb();
    });
    return this;
  }

  forget(c: RawConn): void {
    this.conns.delete(c);
  }

  close(): this {
    this.closing = true;
    this.net?.close();
    return this;
  }

  closeIdleConnections(): void {
    for (const c of this.conns) if (!c.busy) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.conns) c.socket.destroy();
    clearInterval(this.sweep);
    this.sweep = undefined;
  }

  private closeStale(): void {
    const now = performance.now();
    for (const c of this.conns)
      if (!c.busy && now - c.idleSince > (c.served ? KEEP_ALIVE_MS : FIRST_REQUEST_MS)) c.socket.destroy();
    if (this.conns.size === 0) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }
}

/** The raw objects as the code written against node:http sees them. */
export { RawRequest, RawResponse };
export const asNode = (req: RawRequest, res: RawResponse) =>
  [req as unknown as IncomingMessage, res as unknown as ServerResponse] as const;
