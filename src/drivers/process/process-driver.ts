/**
 * The process target: every instance is a local process under its own supervisor ("shim",
 * shim/main.ts), spawned detached so instances outlive the daemon. A new driver adopts the
 * live instances from their state files (shim pid + /proc start time: safe against pid reuse).
 * Where things live: layout.ts; releases: releases.ts; the shim's launch: shim-launch.ts.
 *
 * When a shim is killed with SIGKILL its application keeps running (it has its own session);
 * Node cannot ask the kernel for a parent-death signal, so the driver kills the recorded
 * application process group the next time inspect() or stop() sees the shim gone.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { DriverError } from "../../errors.js";
import { silentLogger, type Logger } from "../../logger.js";
import { proxied } from "../../spec/defaults.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { exitCodeOf, runShellCommand } from "../../util/command.js";
import { sleep } from "../../util/sleep.js";
import type {
  Artifact,
  PrepareOptions,
  Driver,
  DriverCapabilities,
  Instance,
  InstanceRequest,
  InstanceStats,
  LogLine,
  LogOptions,
  StopOptions,
} from "../driver.js";
import { freeLoopbackPort } from "./free-port.js";
import { Archive, fromInstance, toInstance } from "./instances.js";
import { Layout, NAME } from "./layout.js";
import { lastLogLines, processLogs } from "./process-logs.js";
import { groupStats } from "./process-stats.js";
import { groupAlive, isSameProcess, killAppGroup, signal } from "./procfs.js";
import { prepareRelease, pruneReleases, removeTree } from "./releases.js";
import { treeDigest } from "../tree-digest.js";
import { spawnShim, waitStarted } from "./shim-launch.js";
import { STOP_FILE, readState, writeJsonAtomic, type ShimConfig, type StopRequest } from "./state.js";
import { extraPortVar } from "../../spec/schema-ports.js";

export interface ProcessDriverOptions {
  /** SLIPWAY_HOME: releases, instances and logs live below it. */
  home: string;
  logger?: Logger;
  /**
   * Variables of the daemon's own environment passed on to instances and one-off commands
   * (the spec's env comes on top). Anything else of the daemon's environment (tokens, database
   * URLs) stays out.
   */
  inheritEnv?: string[];
  /** How long start() waits for the shim to report the application spawned (default 30 s). */
  startTimeoutMs?: number;
  /** Logs of stopped instances kept per service (default 10). */
  keepStoppedLogs?: number;
}

export const DEFAULT_INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TMPDIR",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];

/** A directory without a state file this old is a shim that never started. */
const ORPHAN_DIR_AGE_MS = 60_000;

export class ProcessDriver implements Driver {
  readonly name = NAME;
  readonly capabilities: DriverCapabilities = {
    trafficSplit: false,
    gpus: false,
    exec: true,
    stats: true,
    adopt: true,
  };
  readonly home: string;
  private readonly layout: Layout;
  private readonly archive: Archive;
  private readonly logger: Logger;
  private readonly inheritEnv: string[];
  private readonly startTimeoutMs: number;

  constructor(opts: ProcessDriverOptions) {
    this.home = resolvePath(opts.home);
    this.layout = new Layout(this.home);
    this.logger = opts.logger ?? silentLogger;
    this.archive = new Archive(this.layout, this.logger, opts.keepStoppedLogs ?? 10);
    this.inheritEnv = opts.inheritEnv ?? DEFAULT_INHERITED_ENV;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  }

  releaseDir(project: string, env: string, service: string, revision: number): string {
    return this.layout.releaseDir(project, env, service, revision);
  }

  instanceDir(project: string, env: string, id: string): string {
    return this.layout.instanceDir(project, env, id);
  }

  /** Where an instance's log files are: its live directory, else the logs kept after its stop. */
  logDir(instance: Pick<Instance, "project" | "env" | "service" | "id">): string {
    return this.layout.logDir(instance);
  }

  /** The release is a copy of `path`: its files are the code (prepare copies the same set). */
  async sourceDigest(_project: string, _env: string, service: ResolvedService): Promise<string | undefined> {
    try {
      return statSync(service.path).isDirectory() ? treeDigest(service.path) : undefined;
    } catch {
      return undefined;
    }
  }

  async prepare(
    project: string,
    env: string,
    service: ResolvedService,
    revision: number,
    opts: PrepareOptions = {},
  ): Promise<Artifact> {
    return prepareRelease(this.layout, this.logger, { project, env, service, revision }, opts);
  }

  async prune(project: string, env: string, service: string, keep: number[]): Promise<void> {
    const dir = this.layout.releasesOf(project, env, service);
    if (!existsSync(dir)) return;
    // A release a live instance runs from is never removed, whatever `keep` says.
    const inUse = new Set(
      (await this.inspect(project, env)).filter((i) => i.service === service).map((i) => i.revision),
    );
    pruneReleases(dir, this.logger, service, keep, inUse);
  }

  async start(req: InstanceRequest): Promise<Instance> {
    const svc = req.service;
    if (!svc.run)
      throw new DriverError(NAME, `service "${svc.name}" has no "run" command (services.${svc.name}.run)`);
    if (!existsSync(req.artifact.ref))
      throw new DriverError(NAME, `service "${svc.name}": release directory ${req.artifact.ref} is missing`);
    const stopSignal = checkSignal(svc.stop.signal);
    const id = `${svc.name}-r${req.revision}-${req.index}-${randomBytes(3).toString("hex")}`;
    const dir = this.layout.instanceDir(req.project, req.env, id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Proxied: an ephemeral port behind the public one. Unproxied: the public port itself.
    const port = proxied(svc) ? await freeLoopbackPort() : svc.port;
    const cfg = this.shimConfig(req, { id, dir, port, stopSignal });
    const shimPid = await spawnShim(dir, cfg);
    try {
      const state = await waitStarted(dir, shimPid, id, this.startTimeoutMs);
      this.logger.info("instance started", { id, pid: shimPid, appPid: state.appPid, port });
      return toInstance(state, dir);
    } catch (e) {
      signal(shimPid, "SIGKILL");
      const s = readState(dir);
      if (s) killAppGroup(s.appPid, s.appStartTime);
      this.archive.archive(dir, cfg.identity);
      throw e;
    }
  }

  private shimConfig(
    req: InstanceRequest,
    at: { id: string; dir: string; port: number | undefined; stopSignal: NodeJS.Signals },
  ): ShimConfig {
    const { id, port } = at;
    const svc = req.service;
    return {
      identity: {
        id,
        project: req.project,
        env: req.env,
        service: svc.name,
        revision: req.revision,
        version: req.version,
        slot: req.slot,
        index: req.index,
        ...(port !== undefined ? { host: "127.0.0.1", port } : {}),
        release: req.artifact.ref,
      },
      instanceDir: at.dir,
      cwd: req.artifact.ref,
      run: svc.run as string,
      env: {
        ...this.instanceEnv(req, id),
        ...(port !== undefined ? { PORT: String(port) } : {}),
        ...Object.fromEntries((svc.ports ?? []).map((p) => [extraPortVar(p.name), String(p.port)])),
      },
      stopSignal: at.stopSignal,
      graceMs: svc.stop.grace,
      restart: {
        policy: svc.restart.policy,
        backoffMs: svc.restart.backoff,
        maxBackoffMs: svc.restart.maxBackoff,
        crashLoopRestarts: svc.restart.crashLoop.restarts,
        crashLoopWithinMs: svc.restart.crashLoop.within,
      },
      logs: { maxSize: svc.logs.maxSize, maxFiles: svc.logs.maxFiles },
    };
  }

  async inspect(project: string, env: string): Promise<Instance[]> {
    const base = this.layout.instancesOf(project, env);
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      return [];
    }
    const live: Instance[] = [];
    for (const name of names) {
      const dir = join(base, name);
      const s = readState(dir);
      if (!s) {
        // start() may be spawning it right now; only an old directory without state is debris.
        let age = 0;
        try {
          age = Date.now() - statSync(dir).mtimeMs;
        } catch {
          continue;
        }
        if (age > ORPHAN_DIR_AGE_MS) removeTree(dir);
        continue;
      }
      if (isSameProcess(s.shimPid, s.shimStartTime)) {
        if (!s.stopped) live.push(toInstance(s, dir));
        continue;
      }
      this.archive.reap(dir, s);
    }
    live.sort(
      (a, b) => a.service.localeCompare(b.service) || a.slot.localeCompare(b.slot) || a.index - b.index,
    );
    return live;
  }

  /** With `retire`, the stopped instance's logs are kept as a retired instance (`logs --revision`). */
  async stop(instance: Instance, opts: StopOptions): Promise<{ keptAs?: string }> {
    const sig = checkSignal(opts.signal);
    const dir = this.layout.instanceDir(instance.project, instance.env, instance.id);
    const s = readState(dir) ?? fromInstance(instance);
    if (isSameProcess(s.shimPid, s.shimStartTime)) {
      if (existsSync(dir))
        writeJsonAtomic(join(dir, STOP_FILE), { signal: sig, graceMs: opts.graceMs } satisfies StopRequest);
      signal(s.shimPid, "SIGTERM");
      const gone = await waitUntil(() => !isSameProcess(s.shimPid, s.shimStartTime), opts.graceMs + 2000);
      if (!gone) {
        this.logger.warn("supervisor did not stop in time; killing it", { id: instance.id, pid: s.shimPid });
        signal(s.shimPid, "SIGKILL");
        await waitUntil(() => !isSameProcess(s.shimPid, s.shimStartTime), 2000);
      }
    }
    // The shim may have restarted the application since `instance` was read: take the latest pid.
    const last = readState(dir) ?? s;
    if (killAppGroup(last.appPid, last.appStartTime)) {
      this.logger.warn("killed the remaining application process group", {
        id: instance.id,
        pgid: last.appPid,
      });
      await waitUntil(() => !groupAlive(last.appPid ?? 0), 2000);
    }
    this.archive.archive(dir, instance, opts.retire);
    this.logger.info("instance stopped", { id: instance.id });
    return opts.retire ? { keptAs: instance.id } : {};
  }

  async retired(project: string, env: string): Promise<Instance[]> {
    return this.archive.retired(project, env);
  }

  async runOnce(
    req: InstanceRequest,
    command: string,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ exitCode: number; output: string }> {
    const cwd = req.artifact.ref;
    if (!existsSync(cwd))
      throw new DriverError(NAME, `service "${req.service.name}": release directory ${cwd} is missing`);
    const env = this.instanceEnv(req, `${req.service.name}-r${req.revision}-once`);
    return runCommand(command, cwd, env, opts);
  }

  logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine> {
    return processLogs(this.layout, instances, opts);
  }

  /** The last `n` lines of an instance's log (live or stopped), for failure messages. */
  async lastLogLines(instance: Instance, n: number): Promise<string[]> {
    return lastLogLines(this.layout, instance, n);
  }

  async stats(instance: Instance): Promise<InstanceStats | undefined> {
    return groupStats(
      readState(this.layout.instanceDir(instance.project, instance.env, instance.id)),
      instance,
    );
  }

  async close(): Promise<void> {
    // Instances outlive the driver by design: nothing to stop.
  }

  private instanceEnv(req: InstanceRequest, id: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const k of this.inheritEnv) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    return {
      ...env,
      ...req.env_vars,
      SLIPWAY_VERSION: req.version,
      SLIPWAY_ENV: req.env,
      SLIPWAY_SERVICE: req.service.name,
      SLIPWAY_REVISION: String(req.revision),
      SLIPWAY_INSTANCE: id,
    };
  }
}

function checkSignal(s: string): NodeJS.Signals {
  if (!(s in osConstants.signals)) throw new DriverError(NAME, `unknown stop signal "${s}"`);
  return s as NodeJS.Signals;
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/**
 * Runs a one-off shell command in its own process group (a timeout sends SIGTERM, then SIGKILL
 * 2 s later; what it left running is killed when it exits); output capped (the end is kept).
 */
export async function runCommand(
  command: string,
  cwd: string,
  env: Record<string, string>,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ exitCode: number; output: string }> {
  const r = await runShellCommand(command, {
    cwd,
    env,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    termGraceMs: 2000,
    killGroupOnExit: true,
  });
  if (r.error) throw new DriverError(NAME, `could not run "${command}": ${r.error.message}`);
  if (r.ended === "timeout")
    return { exitCode: 124, output: `${r.output}\n[slipway] timed out after ${opts.timeoutMs} ms` };
  if (r.ended === "aborted") return { exitCode: 130, output: `${r.output}\n[slipway] interrupted` };
  return { exitCode: exitCodeOf(r), output: r.output };
}
