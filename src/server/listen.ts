/**
 * The daemon's two doors. The unix socket under SLIPWAY_HOME (mode 0600, in a 0700 directory)
 * is the local CLI's: whoever can open it owns SLIPWAY_HOME and is admin. The TCP listener
 * (dashboard, remote API) binds loopback unless told otherwise; any other address needs TLS
 * or an explicit --insecure-http.
 */
import { chmod, unlink } from "node:fs/promises";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { isIP } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import { UsageError, type Logger } from "../index.js";
import type { AppEnv } from "./guard.js";

export interface TcpOptions {
  tls?: { cert: string; key: string };
  /** Serve plain HTTP on a non-loopback address anyway (a warning is logged). */
  insecureHttp?: boolean;
  /** Host names (besides loopback ones) the Host header may carry. */
  allowedHosts?: string[];
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || (isIP(h) === 4 && h.startsWith("127."));
}

async function listenOn(server: Server, where: string | { host: string; port: number }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (typeof where === "string") server.listen(where, done);
    else server.listen(where.port, where.host, done);
  });
}

export async function listenSocket(app: Hono<AppEnv>, path: string): Promise<Server> {
  const server = createAdaptorServer({
    fetch: (req, env) => app.fetch(req, { ...env, local: true }),
  }) as Server;
  await unlink(path).catch(() => {});
  // The socket file is created inside listen(): under this umask it is never wider than 0600.
  const umask = process.umask(0o177);
  try {
    await listenOn(server, path);
  } finally {
    process.umask(umask);
  }
  await chmod(path, 0o600);
  return server;
}

/** Refuse a non-loopback plain-HTTP listener before the daemon starts anything. */
export function assertTcpOptions(host: string, o: TcpOptions): void {
  if (!!o.tls?.cert !== !!o.tls?.key) throw new UsageError("--tls-cert and --tls-key go together");
  if (!isLoopback(host) && !o.tls && !o.insecureHttp)
    throw new UsageError(
      `--host ${host} is not a loopback address: give --tls-cert and --tls-key, or --insecure-http ` +
        "to serve plain HTTP anyway (passwords and tokens would cross the network in clear)",
    );
}

export async function listenTcp(
  app: Hono<AppEnv>,
  host: string,
  port: number,
  o: TcpOptions,
  logger: Logger,
): Promise<{ server: Server; url: string }> {
  assertTcpOptions(host, o);
  if (!isLoopback(host) && !o.tls)
    logger.warn(
      `WARNING: serving plain HTTP on ${host} (--insecure-http): passwords, session cookies and tokens cross the network unencrypted`,
    );
  let serverOptions: { cert: Buffer; key: Buffer } | undefined;
  if (o.tls) {
    try {
      serverOptions = { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) };
    } catch (e) {
      throw new UsageError(`cannot read the TLS certificate or key: ${(e as Error).message}`);
    }
  }
  const server = createAdaptorServer({
    fetch: app.fetch,
    ...(serverOptions ? { createServer: createHttpsServer, serverOptions } : {}),
  }) as Server;
  await listenOn(server, { host, port });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return { server, url: `${o.tls ? "https" : "http"}://${shown}:${bound}` };
}
