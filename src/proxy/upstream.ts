/**
 * The proxy's HTTP/1.1 client to its upstreams: keep-alive connections on raw sockets, one
 * llhttp parser each (Node's own, the one node:http uses). It replaces `http.request` + `Agent`
 * on the hot path, which cost more CPU per exchange than the two write system calls it makes
 * (ClientRequest, IncomingMessage streams, agent bookkeeping, several ticks per exchange).
 */
import { createRequire } from "node:module";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { READ_BUFFER } from "./fast-accept.js";

interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  close(): void;
  [k: number]: unknown;
}
interface ParserClass {
  new (): Parser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}
const { HTTPParser } = createRequire(import.meta.url)("_http_common") as { HTTPParser: ParserClass };

/** An idle connection older than this is closed rather than reused (Node servers close after 5 s). */
const IDLE_MS = 4_000;

/** What an exchange hears from its upstream connection. */
export interface UpstreamSink {
  /** The connection is usable: the request head may be sent, and the body after it. */
  upConnected(): void;
  upHead(status: number, message: string, headers: string[]): void;
  upData(chunk: Buffer): void;
  /** Everything one read from the socket held has been passed on. */
  upRead(): void;
  /** The response is complete. */
  upEnd(): void;
  /** Connection or protocol failure before the response completed. */
  upError(err: NodeJS.ErrnoException): void;
}

function hangUp(message: string, code = "ECONNRESET"): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

export class UpstreamConn {
  readonly socket: Socket;
  private readonly parser: Parser;
  /** Came from the pool's free list (an earlier exchange used it). */
  reused = false;
  connected = false;
  private sink: UpstreamSink | undefined;
  private head = false;
  private skipBody = false;
  private info = false;
  private keepAlive = false;
  private chunked = false;
  private requestDone = false;
  private responseDone = false;
  private partial: string[] | undefined;
  idleSince = 0;

  constructor(
    private readonly pool: UpstreamPool,
    host: string,
    port: number,
  ) {
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    p[HTTPParser.kOnHeaders] = (h: string[]) => {
      this.partial = this.partial ? this.partial.concat(h) : h;
    };
    p[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete;
    p[HTTPParser.kOnBody] = (b: Buffer) => this.sink?.upData(b);
    p[HTTPParser.kOnMessageComplete] = this.onMessageComplete;
    this.parser = p;
    // Every upstream socket reads into the proxy's one read buffer (net's `onread`): no buffer,
    // Readable push, 'data' event and read-more tick per read.
    const s = connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onRead } });
    this.socket = s;
    s.once("connect", () => {
      this.connected = true;
      this.sink?.upConnected();
    });
    s.on("end", this.onEnd);
    s.on("error", (e) => this.fail(e as NodeJS.ErrnoException));
    s.on("close", () => this.fail(hangUp("socket hang up")));
  }

  /** Start an exchange on this connection; `upConnected` follows (at once if already connected). */
  begin(sink: UpstreamSink, method: string): void {
    this.sink = sink;
    this.head = method === "HEAD";
    this.requestDone = false;
    this.responseDone = false;
    this.keepAlive = false;
    if (this.connected) sink.upConnected();
  }

  /** The request head; `chunked`: the body that follows is framed here. `end`: no body. */
  sendHead(text: string, chunked: boolean, end: boolean): void {
    this.chunked = chunked;
    this.socket.write(text, "latin1");
    if (end) this.requestDone = true;
  }

  /** A request body chunk; false = wait for `drain` on the socket. */
  sendBody(chunk: Buffer): boolean {
    if (!this.chunked) return this.socket.write(chunk);
    const s = this.socket;
    s.cork();
    s.write(`${chunk.length.toString(16)}\r\n`, "latin1");
    s.write(chunk);
    const ok = s.write("\r\n", "latin1");
    s.uncork();
    return ok;
  }

  endBody(): void {
    if (this.chunked) this.socket.write("0\r\n\r\n", "latin1");
    this.requestDone = true;
    if (this.responseDone) this.finishExchange();
  }

  /** Give up on the exchange: the connection is closed, the sink hears nothing more. */
  abort(): void {
    this.sink = undefined;
    this.socket.destroy();
  }

  /** One read into READ_BUFFER; true = keep reading (backpressure pauses the socket instead). */
  private onRead = (nread: number, buf: Uint8Array): boolean => {
    const r = this.parser.execute((buf as Buffer).subarray(0, nread));
    this.sink?.upRead();
    if (typeof r !== "number") {
      this.fail(hangUp(`upstream sent an invalid response: ${r.message}`, "HPE_INVALID"));
      this.socket.destroy();
    }
    return true;
  };

  private onEnd = (): void => {
    // A response delimited by the connection's end completes here.
    if (this.sink && !this.responseDone) this.parser.finish();
    this.keepAlive = false;
    this.socket.end();
  };

  private onHeadersComplete = (
    _maj: number,
    _min: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    message: string,
    _upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    const h = this.partial ? (headers ? this.partial.concat(headers) : this.partial) : (headers ?? []);
    this.partial = undefined;
    if (status < 200 && status !== 101) {
      // 100 Continue, 103 Early Hints: the final response follows.
      this.info = true;
      return 0;
    }
    this.keepAlive = keepAlive && status !== 101;
    this.sink?.upHead(status, message, h);
    return this.head ? 1 : 0;
  };

  private onMessageComplete = (): void => {
    if (this.info) {
      this.info = false;
      return;
    }
    this.responseDone = true;
    const sink = this.sink;
    if (this.requestDone || !this.keepAlive) this.finishExchange();
    sink?.upEnd();
  };

  /** Both directions are done: back to the pool, or closed. */
  private finishExchange(): void {
    this.sink = undefined;
    if (this.keepAlive && this.requestDone && !this.socket.destroyed) this.pool.release(this);
    else this.socket.destroy();
  }

  private fail(e: NodeJS.ErrnoException): void {
    const sink = this.sink;
    this.sink = undefined;
    this.pool.forget(this);
    if (!this.socket.destroyed) this.socket.destroy();
    sink?.upError(e);
  }
}

/** The keep-alive connections to one upstream address, most recently used first. */
export class UpstreamPool {
  private readonly free: UpstreamConn[] = [];
  private readonly all = new Set<UpstreamConn>();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxFree = 256,
  ) {}

  acquire(): UpstreamConn {
    const now = performance.now();
    let c: UpstreamConn | undefined;
    while ((c = this.free.pop())) {
      if (now - c.idleSince < IDLE_MS && !c.socket.destroyed) {
        c.reused = true;
        return c;
      }
      this.forget(c);
      c.socket.destroy();
    }
    c = new UpstreamConn(this, this.host, this.port);
    this.all.add(c);
    return c;
  }

  /** Open connections (idle and busy). */
  get size(): number {
    return this.all.size;
  }

  release(c: UpstreamConn): void {
    if (this.free.length >= this.maxFree) {
      this.forget(c);
      c.socket.destroy();
      return;
    }
    c.idleSince = performance.now();
    this.free.push(c);
  }

  forget(c: UpstreamConn): void {
    if (!this.all.delete(c)) return;
    const i = this.free.lastIndexOf(c);
    if (i >= 0) this.free.splice(i, 1);
  }

  /** Close every connection, busy ones too (their exchanges fail); the pool stays usable. */
  destroy(): void {
    for (const c of [...this.all]) c.socket.destroy();
    this.all.clear();
    this.free.length = 0;
  }
}
