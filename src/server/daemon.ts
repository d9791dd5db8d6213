/**
 * `slipway serve`: owns execution, the store, locks and recovery. At start it recovers
 * interrupted operations and adopts live instances; then it serves the API on loopback.
 */
import { writeFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import type { Logger } from "../logger.js";
import type { Engine } from "../factory.js";
import { createApp } from "./app.js";
import { ensureToken } from "./auth.js";

export interface DaemonOptions {
  home: string;
  host: string;
  port: number;
  engine: Engine;
  logger: Logger;
  version: string;
}

export interface RunningDaemon {
  url: string;
  close(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const token = ensureToken(opts.home);
  const startedAt = new Date().toISOString();
  await opts.engine.recoverAll((msg) => opts.logger.warn(msg));
  const app = createApp({ token, slipway: (k) => opts.engine.slipway(k), version: opts.version, startedAt });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.on("error", reject);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  const infoFile = join(opts.home, "daemon.json");
  writeFileSync(infoFile + ".tmp", JSON.stringify({ url, pid: process.pid, startedAt }), { mode: 0o600 });
  renameSync(infoFile + ".tmp", infoFile);
  opts.logger.info(`slipway daemon listening on ${url}`, { pid: process.pid });
  return {
    url,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(infoFile, { force: true });
      await opts.engine.close();
    },
  };
}
