/**
 * The request and response objects of the raw HTTP/1.1 server (raw-http.ts): the part of
 * node:http's IncomingMessage and ServerResponse the proxy uses, over the connection's socket.
 */
import type { Socket } from "node:net";

/** What a message needs from its connection (RawConn). */
export interface MessageConn {
  readonly socket: Socket;
  readonly server: { readonly closing: boolean };
  /** The exchange took its held body: reading may go on. */
  resumeHeld(): void;
  /** The response is complete; `keepAlive`: the connection serves the next request. */
  responseDone(keepAlive: boolean): void;
}

/** A request body held before the exchange reads it: past this the socket is paused. */
const HOLD_BYTES = 64 * 1024;

/** The part of IncomingMessage the proxy reads. */
export class RawRequest {
  readonly httpVersion: string;
  readonly complete = false;
  private onData: ((b: Buffer) => void) | undefined;
  private onEnd: (() => void) | undefined;
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private ended = false;
  private lowerHeaders: Record<string, string> | undefined;

  constructor(
    readonly conn: MessageConn,
    readonly method: string,
    readonly url: string,
    readonly rawHeaders: string[],
    readonly httpVersionMajor: number,
    readonly httpVersionMinor: number,
    readonly keepAlive: boolean,
  ) {
    this.httpVersion = `${httpVersionMajor}.${httpVersionMinor}`;
  }

  get socket(): Socket {
    return this.conn.socket;
  }

  /** Lower-cased header object, built only when asked (pages, WebSocket upgrades). */
  get headers(): Record<string, string> {
    if (this.lowerHeaders) return this.lowerHeaders;
    const h: Record<string, string> = {};
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      const prev = h[k];
      h[k] = prev === undefined ? raw[i + 1] : `${prev}${k === "cookie" ? "; " : ", "}${raw[i + 1]}`;
    }
    return (this.lowerHeaders = h);
  }

  on(event: string, fn: (...a: never[]) => void): this {
    if (event === "data") {
      this.onData = fn as (b: Buffer) => void;
      const held = this.held;
      this.held = undefined;
      this.heldBytes = 0;
      if (held) for (const b of held) this.onData(b);
      this.conn.resumeHeld();
    } else if (event === "end") {
      this.onEnd = fn as () => void;
      if (this.ended && !this.held) this.onEnd();
    }
    return this;
  }

  pause(): this {
    this.conn.socket.pause();
    return this;
  }

  resume(): this {
    this.conn.socket.resume();
    return this;
  }

  /** From the parser: a body chunk. */
  push(b: Buffer): void {
    if (this.onData) return this.onData(b);
    (this.held ??= []).push(b);
    this.heldBytes += b.length;
    if (this.heldBytes > HOLD_BYTES) this.conn.socket.pause();
  }

  /** The answer is out and nothing reads the body: the rest of it is dropped as it arrives. */
  discard(): void {
    if (this.onData) return;
    this.onData = () => {};
    this.held = undefined;
    this.heldBytes = 0;
    this.conn.resumeHeld();
  }

  finish(): void {
    this.ended = true;
    (this as { complete: boolean }).complete = true;
    if (this.onEnd && !this.held) this.onEnd();
  }

  get holding(): boolean {
    return this.held !== undefined && this.heldBytes > HOLD_BYTES;
  }
}

let dateText = "";
let dateSecond = 0;
/** The Date header's value, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const NO_BODY_STATUS = (s: number) => s === 204 || s === 304 || (s >= 100 && s < 200);

/** The part of ServerResponse the proxy writes with. */
export class RawResponse {
  headersSent = false;
  writableFinished = false;
  private head: string | undefined;
  private chunked = false;
  private noBody = false;
  private keepAlive: boolean;
  private onClose: (() => void) | undefined;

  constructor(
    private readonly conn: MessageConn,
    private readonly req: RawRequest,
  ) {
    this.keepAlive = req.keepAlive;
  }

  writeHead(status: number, a?: string | Record<string, string | number> | string[], b?: string[]): this {
    const message = typeof a === "string" ? a : (STATUS[status] ?? "");
    const given = typeof a === "string" ? b : a;
    const list: string[] = [];
    if (Array.isArray(given)) list.push(...given);
    else if (given) for (const k of Object.keys(given)) list.push(k, String(given[k]));
    this.noBody = this.req.method === "HEAD" || NO_BODY_STATUS(status);
    const old = this.req.httpVersionMinor === 0 && this.req.httpVersionMajor === 1;
    let head = `HTTP/1.1 ${status} ${message}\r\n`;
    let framed = false;
    let te = false;
    let dated = false;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i];
      const value = list[i + 1];
      if (name.length === 4 && name.toLowerCase() === "date") dated = true;
      else if (name.length === 14 && name.toLowerCase() === "content-length") framed = true;
      else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
        te = true;
        // An HTTP/1.0 client cannot read chunks: the body goes raw and the connection's end frames it.
        if (old) continue;
      } else if (name.length === 10 && name.toLowerCase() === "connection") {
        if (value.toLowerCase().includes("close")) this.keepAlive = false;
        continue;
      }
      head += `${name}: ${value}\r\n`;
    }
    if (te && !this.noBody) {
      if (old) this.keepAlive = false;
      else this.chunked = true;
    } else if (!framed && !te && !this.noBody) {
      if (old) this.keepAlive = false;
      else {
        head += "Transfer-Encoding: chunked\r\n";
        this.chunked = true;
      }
    }
    if (!dated) head += `Date: ${httpDate()}\r\n`;
    if (this.conn.server.closing) this.keepAlive = false;
    if (!this.keepAlive) head += "Connection: close\r\n";
    else if (old) head += "Connection: keep-alive\r\n";
    this.head = head + "\r\n";
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (!this.headersSent) this.writeHead(200);
    return this.out(typeof chunk === "string" ? Buffer.from(chunk) : chunk, false);
  }

  end(chunk?: Buffer | string): this {
    if (this.writableFinished) return this;
    if (!this.headersSent) this.writeHead(200);
    this.out(chunk === undefined ? undefined : typeof chunk === "string" ? Buffer.from(chunk) : chunk, true);
    this.writableFinished = true;
    this.conn.responseDone(this.keepAlive);
    return this;
  }

  /** One write for the head, a chunk's framing and the chunk, whatever of them is due. */
  private out(chunk: Buffer | undefined, last: boolean): boolean {
    const s = this.conn.socket;
    if (s.destroyed) return false;
    const head = this.head;
    this.head = undefined;
    const body = this.noBody || chunk === undefined || chunk.length === 0 ? undefined : chunk;
    let pre = head ?? "";
    if (body && this.chunked) pre += `${body.length.toString(16)}\r\n`;
    const post =
      this.chunked && !this.noBody
        ? body
          ? last
            ? "\r\n0\r\n\r\n"
            : "\r\n"
          : last
            ? "0\r\n\r\n"
            : ""
        : "";
    if (!body) return pre || post ? s.write(pre + post, "latin1") : true;
    if (body.length <= 16_384) {
      const buf = Buffer.allocUnsafe(pre.length + body.length + post.length);
      buf.write(pre, 0, "latin1");
      body.copy(buf, pre.length);
      if (post) buf.write(post, pre.length + body.length, "latin1");
      return s.write(buf);
    }
    s.cork();
    if (pre) s.write(pre, "latin1");
    let ok = s.write(body);
    if (post) ok = s.write(post, "latin1");
    s.uncork();
    return ok;
  }

  on(event: string, fn: () => void): this {
    if (event === "close") this.onClose = fn;
    return this;
  }

  once(event: string, fn: () => void): this {
    if (event === "drain") this.conn.socket.once("drain", fn);
    else this.on(event, fn);
    return this;
  }

  destroy(): this {
    this.conn.socket.destroy();
    return this;
  }

  /** The connection closed. */
  closed(): void {
    this.onClose?.();
  }
}

const STATUS: Record<number, string> = {
  200: "OK",
  301: "Moved Permanently",
  308: "Permanent Redirect",
  400: "Bad Request",
  404: "Not Found",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};
