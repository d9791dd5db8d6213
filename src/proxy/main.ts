/**
 * The proxy process: `node main.js --home DIR` (the daemon starts it through ProxyClient).
 * The proxy writes ${home}/proxy/proxy.pid; this entry logs JSON lines to ${home}/proxy/proxy.log.
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close WebSockets with 1001, exit.
 * SLIPWAY_PROXY_WORKERS=N (or auto): a primary and N worker processes (node:cluster), which run
 * this same module (cluster.isWorker); see cluster-primary.ts.
 */
import cluster from "node:cluster";
import { createWriteStream } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { availableParallelism, homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileLogger } from "../logger.js";
import { proxyPaths } from "./paths.js";
import { proxyWorkers } from "./cluster-ipc.js";
import { startClusterProxy } from "./cluster-primary.js";
import { runWorker } from "./cluster-worker.js";
import { startProxy } from "./start.js";

function usage(msg: string): never {
  console.error(`slipway proxy: ${msg}\nusage: main --home DIR`);
  process.exit(2);
}

let args: { home?: string };
try {
  args = parseArgs({ options: { home: { type: "string" } }, strict: true }).values;
} catch (e) {
  usage((e as Error).message);
}
const home = resolve(args.home ?? process.env.SLIPWAY_HOME ?? join(homedir(), ".slipway"));
const paths = proxyPaths(home);
await mkdir(paths.dir, { recursive: true, mode: 0o700 });
// Before the log file is opened in it; startProxy() tightens it again for in-process use.
await chmod(paths.dir, 0o700);

let workers = 1;
try {
  workers = cluster.isWorker ? 1 : proxyWorkers(process.env.SLIPWAY_PROXY_WORKERS, availableParallelism());
} catch (e) {
  usage((e as Error).message);
}

const out = createWriteStream(paths.log, { flags: "a", mode: 0o600 });
const logger = fileLogger(out, "info", {
  pid: process.pid,
  ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}),
});

process.on("uncaughtException", (e: NodeJS.ErrnoException) => {
  // A socket error without a listener must not take every route down with it.
  if (e.code === "ECONNRESET" || e.code === "EPIPE" || e.code === "ETIMEDOUT") {
    logger.warn("socket error", { error: e.message });
    return;
  }
  logger.error("uncaught exception, exiting", { error: e.stack ?? e.message });
  out.end(() => process.exit(1));
});

if (cluster.isWorker) {
  const w = runWorker(home, logger);
  // The primary forwards its stop; a signal sent to this process alone drains it too.
  const stopWorker = () => void w.stop();
  process.once("SIGTERM", stopWorker);
  process.once("SIGINT", stopWorker);
  process.on("SIGHUP", () => {});
  await w.closed;
  out.end(() => process.exit(0));
  await new Promise(() => {});
}

let proxy;
try {
  proxy =
    workers > 1 ? await startClusterProxy({ home, logger, workers }) : await startProxy({ home, logger });
} catch (e) {
  logger.error("could not start", { error: (e as Error).message });
  console.error(`slipway proxy: ${(e as Error).message}`);
  out.end(() => process.exit(1));
  await new Promise(() => {});
  throw e;
}
const running = proxy;

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) {
    logger.warn("second signal, exiting now", { signal });
    process.exit(1);
  }
  stopping = true;
  logger.info("stopping: draining in-flight requests", { signal });
  try {
    await running.close({ graceful: true });
  } catch (e) {
    logger.error("error while stopping", { error: (e as Error).message });
  }
  logger.info("stopped");
  out.end(() => process.exit(0));
};
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGHUP", () => logger.info("SIGHUP ignored"));
