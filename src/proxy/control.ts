/**
 * The control API: plain HTTP over a unix socket (mode 0600, in a 0700 directory), used by
 * the daemon through ProxyClient only. The protection is per uid: any process of the user
 * running the proxy can use the socket, no other user (but root) can.
 *
 *   GET    /health                 {ok, pid, routes, uptimeSeconds, workers?: [{pid, requests}]}
 *   GET    /routes                 Route[]
 *   PUT    /routes/<encoded key>   body: Route
 *   DELETE /routes/<encoded key>
 *   GET    /stats                  TargetStats[]
 *   POST   /wait-drained           body: {targets: string[], timeoutMs: number}
 *   GET    /metrics                Prometheus text
 */
import { chmod, unlink } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Logger } from "../logger.js";
import { ProxyControlError } from "./paths.js";
import type { ProxyServer } from "./contract.js";

const MAX_BODY = 1 << 20;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ProxyControlError(413, "request body larger than 1 MiB"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "null"));
      } catch (e) {
        reject(new ProxyControlError(400, `body is not valid JSON: ${(e as Error).message}`));
      }
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type":
      typeof body === "string" ? "text/plain; version=0.0.4; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Does something answer on this unix socket? */
export function socketAnswers(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** Refuse to start beside a live proxy; clear a socket file left by a dead one. */
export async function assertNoLiveProxy(path: string): Promise<void> {
  if (await socketAnswers(path))
    throw new ProxyControlError(
      409,
      `a proxy already answers on ${path}; stop it first (its pid is in proxy.pid)`,
    );
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

async function waitDrained(proxy: ProxyServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = (await readJson(req)) as { targets?: unknown; timeoutMs?: unknown } | null;
  const targets = body?.targets;
  const timeoutMs = body?.timeoutMs;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string"))
    throw new ProxyControlError(400, "wait-drained: targets must be an array of target ids");
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0))
    throw new ProxyControlError(400, "wait-drained: timeoutMs must be a number ≥ 0");
  return send(res, 200, await proxy.waitDrained(targets, timeoutMs));
}

/** PUT/DELETE /routes/KEY; false when the method is neither. */
async function changeRoute(
  proxy: ProxyServer,
  key: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const m = req.method ?? "GET";
  if (m === "PUT") {
    const body = await readJson(req);
    const bodyKey = (body as { key?: unknown } | null)?.key;
    if (bodyKey !== key)
      throw new ProxyControlError(
        400,
        `route key in the body (${JSON.stringify(bodyKey)}) differs from the URL (${key})`,
      );
    await proxy.setRoute(body as never);
    send(res, 200, { ok: true });
    return true;
  }
  if (m === "DELETE") {
    await proxy.removeRoute(key);
    send(res, 200, { ok: true });
    return true;
  }
  return false;
}

function controlHandler(proxy: ProxyServer, started: number): Handler {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://control");
    const p = url.pathname;
    const m = req.method ?? "GET";
    if (m === "GET" && p === "/health")
      return send(res, 200, {
        ok: true,
        pid: process.pid,
        routes: proxy.getRoutes().length,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        ...(proxy.workers ? { workers: await proxy.workers() } : {}),
      });
    if (m === "GET" && p === "/routes") return send(res, 200, proxy.getRoutes());
    if (m === "GET" && p === "/stats") return send(res, 200, await proxy.stats());
    if (m === "GET" && p === "/metrics") return send(res, 200, await proxy.metrics());
    if (m === "POST" && p === "/wait-drained") return waitDrained(proxy, req, res);
    if (p.startsWith("/routes/")) {
      const key = decodeURIComponent(p.slice("/routes/".length));
      if (await changeRoute(proxy, key, req, res)) return;
    }
    throw new ProxyControlError(404, `no such control endpoint: ${m} ${p}`);
  };
}

/** Listen on the socket path with owner-only permissions from the very first moment. */
async function listenPrivate(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // The socket file is created by the bind inside listen(), synchronously: under this umask it
    // is never wider than 0600, not even between the bind and the chmod below.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  // A filesystem that ignores the umask for sockets still gets 0600 before the first request.
  await chmod(path, 0o600);
}

export async function startControl(
  proxy: ProxyServer,
  path: string,
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  await assertNoLiveProxy(path);
  await unlink(path).catch(() => {});
  const handle = controlHandler(proxy, Date.now());
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof ProxyControlError ? e.status : 500;
      if (status === 500) log.error("control request failed", { path: req.url, error: (e as Error).message });
      if (!res.headersSent) send(res, status, { error: (e as Error).message });
      else res.destroy();
    });
  });
  await listenPrivate(server, path);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
