/**
 * `slipway serve`: owns execution, the store, locks and recovery. At start it recovers
 * interrupted operations and adopts live instances; then it serves the API on loopback.
 */
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { SlipwayError } from "../core.js";
import { pidAlive, type Logger, type Runtime, type EngineEvent, type ResolvedSpec } from "../index.js";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createApp } from "./app.js";
import { ensureToken } from "./auth.js";
import { daemonMetrics } from "./metrics.js";
import { runScheduledChecks } from "./scheduled-checks.js";
import { Scheduler } from "./scheduler.js";

export interface DaemonOptions {
  home: string;
  host: string;
  port: number;
  engine: Runtime;
  logger: Logger;
  version: string;
}

export interface RunningDaemon {
  url: string;
  close(): Promise<void>;
}

function otherDaemon(home: string): { pid: number; url: string } | undefined {
  try {
    const info = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number; url: string };
    if (info.pid === process.pid || !pidAlive(info.pid)) return undefined;
    // A reused pid is not a daemon.
    const cmd = readFileSync(`/proc/${info.pid}/cmdline`, "utf8");
    if (cmd.includes("slipway") && cmd.includes("serve")) return info;
  } catch {
    /* none */
  }
  return undefined;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const token = ensureToken(opts.home);
  const other = otherDaemon(opts.home);
  if (other)
    throw new SlipwayError(
      `another Slipway daemon (pid ${other.pid}) already serves ${opts.home} on ${other.url}`,
    );
  const startedAt = new Date().toISOString();
  // Alerts: notifiers of every environment with a stored (redacted) configuration resume their
  // outbox — before recovery, whose outcome alerts ("deploy of r12 interrupted; …") need them.
  opts.engine.notify.start();
  await opts.engine.recoverAll((msg) => opts.logger.warn(msg));
  const scheduler = await startScheduler(opts);
  const app = createApp({
    token,
    slipway: (k) => opts.engine.slipway(k),
    remember: (r) => opts.engine.remember(r),
    version: opts.version,
    startedAt,
    metrics: () =>
      daemonMetrics({
        store: opts.engine.store,
        version: opts.version,
        startedAt,
        proxy: () => opts.engine.proxyMetrics(),
        rules: () => opts.engine.rules.all(),
      }),
  });
  const { server, url } = await listen(app, opts);
  const infoFile = join(opts.home, "daemon.json");
  writeFileSync(infoFile + ".tmp", JSON.stringify({ url, pid: process.pid, startedAt }), { mode: 0o600 });
  renameSync(infoFile + ".tmp", infoFile);
  opts.logger.info(`slipway daemon listening on ${url}`, { pid: process.pid });
  const timer = startTicking(opts);
  return {
    url,
    async close() {
      scheduler.stop();
      clearInterval(timer);
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(infoFile, { force: true });
      await opts.engine.close();
    },
  };
}

/** Backups and verifies on a schedule (backup.schedule / backup.verify / schedules: run: backup),
 * health sweeps and check runs of `schedules:` (and the daily tls job). */
async function startScheduler(opts: DaemonOptions): Promise<Scheduler> {
  const schedulerPublish = (spec: ResolvedSpec, e: EngineEvent) =>
    opts.engine.slipway(spec.target).publish(spec.project, spec.env, e);
  const scheduler = new Scheduler({
    home: opts.home,
    store: opts.engine.store,
    logger: opts.logger,
    latest: (p, e) => opts.engine.latest(p, e),
    publish: schedulerPublish,
    subscribe: (fn) => opts.engine.subscribe(fn),
    onSync: (specs) => opts.engine.rules.sync(specs),
  });
  scheduler.handle("health", async (spec, entry) => {
    const r = await opts.engine.slipway(spec.target).sweepHealth(spec.project, spec.env, {
      heal: entry.heal,
      schedule: entry.name,
      latest: opts.engine.latest(spec.project, spec.env),
    });
    if (!r) opts.logger.info(`health sweep ${entry.name} of ${spec.project}/${spec.env} skipped: locked`);
  });
  scheduler.handle("check", async (spec, entry) => {
    await runScheduledChecks(
      {
        home: opts.home,
        logger: opts.logger,
        publish: schedulerPublish,
        latest: (p, e) => opts.engine.latest(p, e),
        preflight: (s) => opts.engine.preflight(s.target),
      },
      spec,
      { schedule: entry.name, kinds: entry.checks },
    );
  });
  scheduler.handle("runbook", async (spec, entry) => {
    const latest = opts.engine.latest(spec.project, spec.env);
    const resolution = latest ?? { spec, snapshot: spec, secrets: new Map(), vars: {} };
    await opts.engine
      .slipway(spec.target)
      .runbook(resolution, entry.runbook ?? "", { trigger: `schedule:${entry.name}` })
      .then((r) => opts.logger.info(`runbook ${r.runbook} of ${spec.project}/${spec.env}: ${r.status}`))
      .catch((e: Error) =>
        opts.logger.warn(`runbook ${entry.runbook} of ${spec.project}/${spec.env}: ${e.message}`),
      );
  });
  await scheduler.start();
  return scheduler;
}

async function listen(
  app: ReturnType<typeof createApp>,
  opts: DaemonOptions,
): Promise<{ server: ReturnType<typeof serve>; url: string }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
    s.on("error", reject);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return { server, url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}` };
}

/** Housekeeping every 2 s; a slow tick is never overlapped by the next one. */
function startTicking(opts: DaemonOptions): NodeJS.Timeout {
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    opts.engine
      .tick((m) => opts.logger.info(m))
      .catch((e: Error) => opts.logger.error(`housekeeping failed: ${e.message}`))
      .finally(() => (ticking = false));
  }, 2000);
  timer.unref();
  return timer;
}
