/**
 * WebSocket pass-through. After the upgrade handshake the proxy pipes raw bytes both ways,
 * but it follows the frame boundaries so that, when the target drains, it can insert a
 * clean close frame (1001 "going away") on both sides instead of cutting the TCP stream.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { upstreamHeaders } from "./forward.js";
import { rawPage } from "./pages.js";
import type { RouteState } from "./route-state.js";
import type { GoingAway, Target } from "./target.js";

const GOING_AWAY = 1001;
/** How long the peers get to answer our close frame before the sockets are destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** Follows frame boundaries of one direction of a WebSocket stream. */
export class FrameTracker {
  private readonly hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private need = 2;
  private remaining = 0;

  get atBoundary(): boolean {
    return this.hdrLen === 0 && this.remaining === 0;
  }

  /** Consume chunk[from..]; with stopAtBoundary, stop at the first frame boundary. Returns the index reached. */
  consume(chunk: Buffer, from: number, stopAtBoundary: boolean): number {
    let i = from;
    const n = chunk.length;
    while (i < n) {
      if (stopAtBoundary && this.atBoundary) return i;
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.hdr[this.hdrLen++] = chunk[i++];
      if (this.hdrLen === 2) {
        const b1 = this.hdr[1];
        const len7 = b1 & 0x7f;
        this.need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
      }
      if (this.hdrLen >= 2 && this.hdrLen === this.need) {
        const len7 = this.hdr[1] & 0x7f;
        this.remaining =
          len7 === 126 ? this.hdr.readUInt16BE(2) : len7 === 127 ? Number(this.hdr.readBigUInt64BE(2)) : len7;
        this.hdrLen = 0;
        this.need = 2;
      }
    }
    return i;
  }
}

function closeFrame(masked: boolean): Buffer {
  if (!masked) return Buffer.from([0x88, 0x02, GOING_AWAY >> 8, GOING_AWAY & 0xff]);
  const m = randomBytes(4);
  return Buffer.from([
    0x88,
    0x82,
    m[0],
    m[1],
    m[2],
    m[3],
    (GOING_AWAY >> 8) ^ m[0],
    (GOING_AWAY & 0xff) ^ m[1],
  ]);
}

/** One direction: src → dst, with the ability to end it by a close frame at a boundary. */
class Direction {
  readonly tracker = new FrameTracker();
  /** A close frame waits for the next boundary. */
  pendingClose = false;
  /** Our close frame was written: nothing more flows this way. */
  closed = false;

  constructor(
    private readonly src: Duplex,
    private readonly dst: Duplex,
    /** Frames towards a server are masked (RFC 6455 §5.3). */
    private readonly masked: boolean,
  ) {
    src.on("data", this.onData);
    dst.on("drain", () => src.resume());
  }

  private onData = (chunk: Buffer): void => {
    if (this.closed) return;
    if (!this.pendingClose) {
      this.tracker.consume(chunk, 0, false);
      if (!this.dst.write(chunk)) this.src.pause();
      return;
    }
    const cut = this.tracker.consume(chunk, 0, true);
    if (cut > 0) this.dst.write(cut === chunk.length ? chunk : chunk.subarray(0, cut));
    if (this.tracker.atBoundary) this.sendClose();
  };

  /** Feed bytes that arrived with the handshake. */
  initial(head: Buffer): void {
    if (head.length) this.onData(head);
  }

  requestClose(): void {
    if (this.closed || this.pendingClose) return;
    this.pendingClose = true;
    this.src.resume();
    if (this.tracker.atBoundary) this.sendClose();
  }

  private sendClose(): void {
    this.pendingClose = false;
    this.closed = true;
    if (this.dst.writable) this.dst.write(closeFrame(this.masked));
  }
}

class WsPair implements GoingAway {
  private readonly toUpstream: Direction;
  private readonly toClient: Direction;
  private done = false;

  constructor(
    private readonly target: Target,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    clientHead: Buffer,
    upstreamHead: Buffer,
  ) {
    this.toUpstream = new Direction(client, upstream, true);
    this.toClient = new Direction(upstream, client, false);
    target.sockets.add(this);
    const finish = () => this.destroy();
    for (const s of [client, upstream]) {
      s.on("error", finish);
      s.on("close", finish);
    }
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    this.toUpstream.initial(clientHead);
    this.toClient.initial(upstreamHead);
  }

  /** Drain ended: close both sides with 1001, give them a moment to answer, then cut. */
  goingAway(): void {
    if (this.done) return;
    this.toClient.requestClose();
    this.toUpstream.requestClose();
    setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref();
  }

  private destroy(): void {
    if (this.done) return;
    this.done = true;
    this.target.sockets.delete(this);
    this.client.destroy();
    this.upstream.destroy();
  }
}

/** Handle an `upgrade` request on a route's listener. */
export function forwardUpgrade(
  rs: RouteState,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  https = false,
): void {
  client.on("error", () => client.destroy());
  const sticky = rs.stickySlot(req.headers.cookie);
  let tried: Set<Target> | undefined;
  const attempt = (): void => {
    const t = rs.balancer.pick(Date.now(), sticky ?? undefined, tried);
    if (!t) {
      client.end(rawPage(tried ? 502 : 503, rs.route.key));
      return;
    }
    const { headers } = upstreamHeaders(req, https);
    headers.push("Connection", "Upgrade", "Upgrade", req.headers.upgrade ?? "websocket");
    let connected = false;
    let timedOut = false;
    const up = httpRequest({
      host: t.host,
      port: t.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      up.destroy();
    }, rs.route.responseTimeoutMs);
    up.on("socket", (s) => s.once("connect", () => (connected = true)));
    up.on("upgrade", (upRes, upSocket: Duplex, upHead: Buffer) => {
      clearTimeout(timer);
      t.succeeded();
      if (client.destroyed || t.draining) {
        upSocket.destroy();
        client.destroy();
        return;
      }
      let headText = `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\n`;
      const raw = upRes.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) headText += `${raw[i]}: ${raw[i + 1]}\r\n`;
      if (sticky !== null && sticky !== t.slot) headText += `Set-Cookie: ${rs.cookieFor(t.slot)}\r\n`;
      client.write(headText + "\r\n");
      new WsPair(t, client, upSocket, head, upHead);
    });
    up.on("response", (upRes) => {
      // The upstream refused the upgrade: relay its answer and close.
      clearTimeout(timer);
      let headText = `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\n`;
      const raw = upRes.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i].toLowerCase();
        if (k === "connection" || k === "transfer-encoding" || k === "keep-alive") continue;
        headText += `${raw[i]}: ${raw[i + 1]}\r\n`;
      }
      client.write(headText + "connection: close\r\n\r\n");
      upRes.pipe(client);
    });
    up.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (client.destroyed) return;
      if (!connected && !timedOut) {
        t.failed(Date.now(), err.code === "ECONNREFUSED");
        (tried ??= new Set()).add(t);
        attempt();
        return;
      }
      t.failed(Date.now(), false);
      client.end(rawPage(timedOut ? 504 : 502, rs.route.key));
    });
    up.end();
  };
  attempt();
}
