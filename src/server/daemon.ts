/**
 * `slipway serve`: owns execution, the store, locks and recovery. At start it recovers
 * interrupted operations and adopts live instances; then it serves the API on loopback.
 */
import { readFileSync, writeFileSync, renameSync, rmSync } from "node:fs";
import { SlipwayError } from "../core.js";
import {
  identityAlive,
  selfIdentity,
  type Logger,
  type Runtime,
  type EngineEvent,
  type ResolvedSpec,
} from "../index.js";
import { join } from "node:path";
import { createApp } from "./app.js";
import { listEnvironments, sharedList } from "./routes-web.js";
import type { AuditRecord } from "./routes-ops.js";
import { assertTcpOptions, listenSocket, listenTcp, type TcpOptions } from "./listen.js";
import { markDaemonStart, markDaemonStop } from "./daemon-state.js";
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
  /** TLS, --insecure-http and the Host allow-list of the TCP listener (server/listen.ts). */
  tcp?: TcpOptions;
  /** How long a dashboard session lasts (`serve --session-ttl`; default 12 h). */
  sessionTtlMs?: number;
}

export interface RunningDaemon {
  url: string;
  /** The 0600 unix socket the local CLI uses (its owner is admin). */
  socket: string;
  close(): Promise<void>;
}

/** A live daemon recorded in daemon.json: its pid and start time (a reused pid is another process). */
function otherDaemon(home: string): { pid: number; url: string } | undefined {
  try {
    const info = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as {
      pid: number;
      startTime?: string;
      url: string;
    };
    if (info.pid === process.pid || !identityAlive(info.pid, info.startTime)) return undefined;
    // A reused pid is not a daemon.
    const cmd = readFileSync(`/proc/${info.pid}/cmdline`, "utf8");
    if (cmd.includes("slipway") && cmd.includes("serve")) return info;
  } catch {
    /* none */
  }
  return undefined;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  assertTcpOptions(opts.host, opts.tcp ?? {});
  const other = otherDaemon(opts.home);
  if (other)
    throw new SlipwayError(
      `another Slipway daemon (pid ${other.pid}) already serves ${opts.home} on ${other.url}`,
    );
  const startedAt = new Date().toISOString();
  const run = markDaemonStart(opts.home, startedAt);
  if (run.afterUncleanStop)
    opts.logger.warn(
      `the previous daemon${run.previousStartedAt ? ` (started ${run.previousStartedAt})` : ""} stopped uncleanly: nothing watched or healed until now`,
    );
  // Alerts: notifiers of every environment with a stored (redacted) configuration resume their
  // outbox — before recovery, whose outcome alerts ("deploy of r12 interrupted; …") need them.
  await opts.engine.notify.start();
  await opts.engine.recoverAll((msg) => opts.logger.warn(msg));
  const scheduler = await startScheduler(opts);
  const tcp = opts.tcp ?? {};
  const app = createApp({
    users: opts.engine.store.auth,
    subscribe: (fn) => opts.engine.subscribe(fn),
    // 20 viewers' pages reading it at once cost one computation (bench/dashboard.ts).
    environments: sharedList(() => listEnvironments(opts.engine.store), 1000),
    audit: (r) => audit(opts, r),
    allowedHosts: tcp.allowedHosts,
    secure: !!tcp.tls,
    sessionTtlMs: opts.sessionTtlMs,
    slipway: (k) => opts.engine.slipway(k),
    remember: (r) => opts.engine.remember(r),
    latest: (project, env) => opts.engine.latest(project, env),
    version: opts.version,
    startedAt,
    run,
    metrics: () =>
      daemonMetrics({
        store: opts.engine.store,
        version: opts.version,
        startedAt,
        proxy: () => opts.engine.proxyMetrics(),
        rules: () => opts.engine.rules.all(),
      }),
  });
  // The old shared full-power token is not accepted any more: do not leave it lying around.
  rmSync(join(opts.home, "daemon.token"), { force: true });
  const socket = join(opts.home, "daemon.sock");
  const local = await listenSocket(app, socket);
  const { server, url } = await listenTcp(app, opts.host, opts.port, tcp, opts.logger);
  const infoFile = join(opts.home, "daemon.json");
  writeFileSync(infoFile + ".tmp", JSON.stringify({ url, socket, ...selfIdentity(), startedAt }), {
    mode: 0o600,
  });
  renameSync(infoFile + ".tmp", infoFile);
  opts.logger.info(`slipway daemon listening on ${url} and ${socket}`, { pid: process.pid });
  const timer = startTicking(opts);
  return {
    url,
    socket,
    async close() {
      scheduler.stop();
      clearInterval(timer);
      server.closeAllConnections?.();
      local.closeAllConnections?.();
      await Promise.all([server, local].map((s) => new Promise<void>((r) => s.close(() => r()))));
      rmSync(infoFile, { force: true });
      rmSync(socket, { force: true });
      await opts.engine.close();
      markDaemonStop(opts.home);
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
        secretAges: (s) => opts.engine.slipway(s.target).secretAges(s, opts.engine.latest(s.project, s.env)),
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

/** An operation of a TCP caller (or its refusal): the daemon log and the store's timeline. */
function audit(opts: DaemonOptions, r: AuditRecord): void {
  const what = `${r.actor} ${r.outcome === "refused" ? "was refused" : "ran"} ${r.op} on ${r.project}/${r.env}`;
  const message = r.reason ? `${what}: ${r.reason}` : what;
  opts.logger.info(message);
  void opts.engine.store
    .addEvent({
      project: r.project,
      env: r.env,
      time: new Date().toISOString(),
      kind: r.outcome === "refused" ? "api.refused" : "api.operation",
      severity: r.outcome === "refused" ? "warning" : "info",
      message,
      data: { actor: r.actor, op: r.op, role: r.role },
    })
    .catch((e: Error) => opts.logger.warn(`cannot record "${message}": ${e.message}`));
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
