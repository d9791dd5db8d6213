/**
 * PROXY protocol (HAProxy's, v1 text and v2 binary) on a listener that sits behind a load
 * balancer: the header in front of the connection carries the client's address, which then
 * reaches the app as X-Forwarded-For. Opt-in per listener — a listener that expects it refuses
 * connections without it, since anyone could otherwise forge the address.
 */
import type { Socket } from "node:net";

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const MAX_V1 = 107;
const HEADER_TIMEOUT_MS = 5_000;

/** The client address a PROXY header gave a connection (looked up by clientIp in forward.ts). */
const claimed = new WeakMap<object, string>();

export function proxiedAddress(socket: object): string | undefined {
  const direct = claimed.get(socket);
  if (direct !== undefined) return direct;
  const parent = (socket as { _parent?: object })._parent;
  return parent ? claimed.get(parent) : undefined;
}

type Parsed = { done: false } | { done: true; used: number; address?: string } | { error: string };

function parseV1(buf: Buffer): Parsed {
  const end = buf.indexOf("\r\n");
  if (end < 0) return buf.length > MAX_V1 ? { error: "PROXY v1 header too long" } : { done: false };
  const parts = buf.subarray(0, end).toString("latin1").split(" ");
  if (parts[1] === "UNKNOWN") return { done: true, used: end + 2 };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6"))
    return { error: "malformed PROXY v1 header" };
  return { done: true, used: end + 2, address: parts[2] };
}

function parseV2(buf: Buffer): Parsed {
  if (buf.length < 16) return { done: false };
  const len = buf.readUInt16BE(14);
  if (buf.length < 16 + len) return { done: false };
  const command = buf[12] & 0x0f;
  const family = buf[13] >> 4;
  const used = 16 + len;
  if (command === 0) return { done: true, used }; // LOCAL: a health check of the balancer itself
  if (family === 1 && len >= 12) return { done: true, used, address: [...buf.subarray(16, 20)].join(".") };
  if (family === 2 && len >= 36) {
    const words: string[] = [];
    for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(16 + 2 * i).toString(16));
    return { done: true, used, address: words.join(":") };
  }
  return { done: true, used };
}

function parseHeader(buf: Buffer): Parsed {
  const n = Math.min(buf.length, V2_SIG.length);
  if (buf.subarray(0, n).equals(V2_SIG.subarray(0, n)))
    return n < V2_SIG.length ? { done: false } : parseV2(buf);
  const v1 = Math.min(buf.length, 6);
  if (buf.subarray(0, v1).toString("latin1") !== "PROXY ".slice(0, v1)) return { error: "no PROXY header" };
  return parseV1(buf);
}

/**
 * Read the PROXY header of a fresh connection, then hand the socket (with the rest of what it
 * sent pushed back) to `next`. A connection without a valid header is closed.
 */
export function acceptProxied(socket: Socket, next: (s: Socket) => void, onError: (m: string) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    onError("no PROXY header within 5 s");
    socket.destroy();
  }, HEADER_TIMEOUT_MS);
  const onData = (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const r = parseHeader(buf);
    if ("error" in r) {
      clearTimeout(timer);
      socket.off("data", onData);
      onError(r.error);
      socket.destroy();
      return;
    }
    if (!r.done) return;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.pause();
    if (r.address) claimed.set(socket, r.address.startsWith("::ffff:") ? r.address.slice(7) : r.address);
    if (r.used < buf.length) socket.unshift(buf.subarray(r.used));
    // Not from inside this 'data' event: a socket resumed here would go on flowing in the same
    // read loop and emit the bytes just pushed back to nobody — a TLS ClientHello that came in
    // the same packet as the header was lost and the handshake hung.
    process.nextTick(() => {
      next(socket);
      socket.resume();
    });
  };
  socket.on("data", onData);
  socket.on("error", () => clearTimeout(timer));
}
