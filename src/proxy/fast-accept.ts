/**
 * Accepted plain connections that read into one shared buffer (net's `onread`), as the upstream
 * client does (upstream.ts): no buffer allocation, Readable push, 'data' event or read-more tick
 * per read on the proxy's busiest path.
 *
 * Node offers `onread` only to sockets it connects, so a listener's accept hook is taken over
 * (`server._handle.onconnection`, which is also what node:cluster workers call for round-robin
 * connections) to build each socket with it — exactly as net.Server does otherwise (same options,
 * noDelay, connection count, `server` reference, 'connection' event). Where that hook is missing
 * (another Node version), the listener stays as it is and connections use 'data' events.
 *
 * A socket reads through its registered reader (`setReader`), which must parse each chunk to the
 * end and keep no view of it. Without a reader — before one is set, after it is removed (a
 * WebSocket upgrade hands the socket on as a stream) — every read is copied into the socket's
 * Readable side, so the socket behaves as any net.Socket.
 */
import { Socket, type Server } from "node:net";

/** A reader: true to go on reading, false to stop (the socket resumes reading on resume()). */
export type Reader = (chunk: Buffer) => boolean;

/**
 * The proxy's one read buffer, for these sockets and the upstream client's (upstream.ts). Safe to
 * share: a read's callback runs to its end before the next read of any socket, parses the whole
 * chunk and keeps no view of it — llhttp's body chunks are copies, and Node's parser saves an
 * unfinished header into its own memory at the end of each execute().
 */
export const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const READER = Symbol("slipway.reader");

type ReadingSocket = Socket & { [READER]?: Reader | null };

/** Called as a method of the socket that read (net calls `socket[kBufferCb](n, buf)`). */
function onRead(this: ReadingSocket, n: number, buf: Buffer): boolean {
  const r = this[READER];
  if (r) return r(buf.subarray(0, n));
  return this.push(Buffer.from(buf.subarray(0, n)));
}

/** The socket reads through the shared buffer (it came from a listener set up by fastAccept). */
export const readsShared = (s: Socket): boolean => READER in s;

/** Give the socket's reads to `reader`; null: back to its Readable side (a copy per read). */
export function setReader(s: Socket, reader: Reader | null): void {
  (s as ReadingSocket)[READER] = reader;
}

interface AcceptHandle {
  onconnection?: (err: number, clientHandle: unknown) => void;
}
interface ServerInternals {
  _handle?: AcceptHandle | null;
  _connections: number;
  noDelay?: boolean;
  allowHalfOpen?: boolean;
}

/**
 * Once `server` listens, build its connections with the shared-buffer reads. Call from the
 * listen callback. Returns whether it took effect.
 */
export function fastAccept(server: Server): boolean {
  const internals = server as unknown as ServerInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.onconnection !== "function") return false;
  const original = handle.onconnection;
  handle.onconnection = function (err: number, clientHandle: unknown) {
    if (err || server.maxConnections) return original.call(this, err, clientHandle);
    const socket = new Socket({
      handle: clientHandle,
      allowHalfOpen: internals.allowHalfOpen,
      readable: true,
      writable: true,
      onread: { buffer: READ_BUFFER, callback: onRead as (n: number, b: Uint8Array) => boolean },
    } as ConstructorParameters<typeof Socket>[0]) as ReadingSocket;
    socket[READER] = null;
    if (internals.noDelay) socket.setNoDelay(true);
    internals._connections++;
    Object.assign(socket, { server, _server: server });
    server.emit("connection", socket);
  };
  return true;
}
