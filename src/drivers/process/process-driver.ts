/**
 * The process target: every instance is a local process under its own supervisor ("shim",
 * shim/main.ts), spawned detached so instances outlive the daemon. A new driver adopts the
 * live instances from their state files (shim pid + /proc start time: safe against pid reuse).
 *
 * Layout under `home`:
 *   releases/<project>/<env>/<service>/r<revision>/   immutable copy of the service's `path`
 *   instances/<project>/<env>/<id>/                   state.json, shim.log, logs/app.log*
 *   logs/<project>/<env>/<service>/<id>/              logs of stopped instances (last few kept)
 *
 * When a shim is killed with SIGKILL its application keeps running (it has its own session);
 * Node cannot ask the kernel for a parent-death signal, so the driver kills the recorded
 * application process group the next time inspect() or stop() sees the shim gone.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { constants as osConstants } from "node:os";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DriverError } from "../../errors.js";
import { silentLogger, type Logger } from "../../logger.js";
import { sleep } from "../../util/sleep.js";
import { proxied } from "../../spec/defaults.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { treeDigest } from "../tree-digest.js";
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
} from "../driver.js";
import { Follower, logFilesNewestFirst, tailLines, toLogLine, type ParsedLine } from "./log-reader.js";
import {
  CLOCK_TICKS,
  PAGE_SIZE,
  groupMembers,
  isSameProcess,
  killAppGroup,
  readStat,
  signal,
} from "./procfs.js";
import {
  LOG_DIR,
  LOG_FILE,
  SHIM_LOG,
  STOP_FILE,
  readState,
  writeJsonAtomic,
  type ShimConfig,
  type ShimState,
  type StopRequest,
} from "./state.js";

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

const NAME = "process";
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
  private readonly logger: Logger;
  private readonly inheritEnv: string[];
  private readonly startTimeoutMs: number;
  private readonly keepStoppedLogs: number;

  constructor(opts: ProcessDriverOptions) {
    this.home = resolvePath(opts.home);
    this.logger = opts.logger ?? silentLogger;
    this.inheritEnv = opts.inheritEnv ?? DEFAULT_INHERITED_ENV;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.keepStoppedLogs = opts.keepStoppedLogs ?? 10;
  }

  // ---- layout -------------------------------------------------------------------------------

  releaseDir(project: string, env: string, service: string, revision: number): string {
    return join(this.home, "releases", seg(project), seg(env), seg(service), `r${revision}`);
  }

  instanceDir(project: string, env: string, id: string): string {
    return join(this.home, "instances", seg(project), seg(env), seg(id));
  }

  /** Where an instance's log files are: its live directory, else the logs kept after its stop. */
  logDir(instance: Pick<Instance, "project" | "env" | "service" | "id">): string {
    const live = join(this.instanceDir(instance.project, instance.env, instance.id), LOG_DIR);
    return existsSync(live) ? live : this.stoppedLogDir(instance);
  }

  private stoppedLogDir(i: Pick<Instance, "project" | "env" | "service" | "id">): string {
    return join(this.home, "logs", seg(i.project), seg(i.env), seg(i.service), seg(i.id));
  }

  // ---- artifacts ----------------------------------------------------------------------------

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
    if (opts.existingOnly) {
      const dest = this.releaseDir(project, env, service.name, revision);
      if (!existsSync(dest))
        throw new DriverError(
          NAME,
          `release r${revision} of ${service.name} is no longer kept (pruned); it cannot be restored (raise services.${service.name}.retain to keep more)`,
        );
      return { service: service.name, revision, ref: dest };
    }
    const src = service.path;
    let isDir = false;
    try {
      isDir = statSync(src).isDirectory();
    } catch {
      isDir = false;
    }
    if (!src || !isDir)
      throw new DriverError(
        NAME,
        `service "${service.name}": path "${src}" does not exist or is not a directory (services.${service.name}.path)`,
      );
    const dest = this.releaseDir(project, env, service.name, revision);
    const artifact = { service: service.name, revision, ref: dest };
    if (existsSync(dest)) return artifact;
    mkdirSync(dirname(dest), { recursive: true });
    // Copy beside the final name and rename: a crash mid-copy never leaves a half release to reuse.
    const tmp = `${dest}.tmp-${randomBytes(4).toString("hex")}`;
    try {
      cpSync(src, tmp, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (s) => basename(s) !== ".git",
      });
      setWritable(tmp, false);
      try {
        renameSync(tmp, dest);
      } catch (e) {
        if (!existsSync(dest)) throw e;
      }
    } catch (e) {
      throw new DriverError(NAME, `service "${service.name}": could not copy ${src} to ${dest}: ${msg(e)}`);
    } finally {
      if (existsSync(tmp)) removeTree(tmp);
    }
    this.logger.debug("release prepared", { service: service.name, revision, dir: dest });
    return artifact;
  }

  async prune(project: string, env: string, service: string, keep: number[]): Promise<void> {
    const dir = join(this.home, "releases", seg(project), seg(env), seg(service));
    if (!existsSync(dir)) return;
    // A release a live instance runs from is never removed, whatever `keep` says.
    const inUse = new Set(
      (await this.inspect(project, env)).filter((i) => i.service === service).map((i) => i.revision),
    );
    for (const name of readdirSync(dir)) {
      const m = /^r(\d+)(\.tmp-.*)?$/.exec(name);
      if (!m) continue;
      const rev = Number(m[1]);
      const stale = m[2] !== undefined && Date.now() - statSync(join(dir, name)).mtimeMs > 3_600_000;
      if (m[2] === undefined ? keep.includes(rev) || inUse.has(rev) : !stale) continue;
      removeTree(join(dir, name));
      this.logger.debug("release removed", { service, revision: rev });
    }
  }

  // ---- instances ----------------------------------------------------------------------------

  async start(req: InstanceRequest): Promise<Instance> {
    const svc = req.service;
    if (!svc.run)
      throw new DriverError(NAME, `service "${svc.name}" has no "run" command (services.${svc.name}.run)`);
    if (!existsSync(req.artifact.ref))
      throw new DriverError(NAME, `service "${svc.name}": release directory ${req.artifact.ref} is missing`);
    const stopSignal = checkSignal(svc.stop.signal);
    const id = `${svc.name}-r${req.revision}-${req.slot}-${req.index}-${randomBytes(3).toString("hex")}`;
    const dir = this.instanceDir(req.project, req.env, id);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    // Proxied: an ephemeral port behind the public one. Unproxied: the public port itself.
    const port = proxied(svc) ? await freeLoopbackPort() : svc.port;
    const cfg: ShimConfig = {
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
      },
      instanceDir: dir,
      cwd: req.artifact.ref,
      run: svc.run,
      env: {
        ...this.instanceEnv(req, id),
        ...(port !== undefined ? { PORT: String(port) } : {}),
      },
      stopSignal,
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
    const shimPid = await this.spawnShim(dir, cfg);
    try {
      const state = await this.waitStarted(dir, shimPid, id);
      this.logger.info("instance started", { id, pid: shimPid, appPid: state.appPid, port });
      return toInstance(state, dir);
    } catch (e) {
      signal(shimPid, "SIGKILL");
      const s = readState(dir);
      if (s) killAppGroup(s.appPid, s.appStartTime);
      this.archive(dir, cfg.identity);
      throw e;
    }
  }

  async inspect(project: string, env: string): Promise<Instance[]> {
    const base = join(this.home, "instances", seg(project), seg(env));
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
      this.reap(dir, s);
    }
    live.sort(
      (a, b) => a.service.localeCompare(b.service) || a.slot.localeCompare(b.slot) || a.index - b.index,
    );
    return live;
  }

  async stop(instance: Instance, opts: { signal: string; graceMs: number }): Promise<void> {
    const sig = checkSignal(opts.signal);
    const dir = this.instanceDir(instance.project, instance.env, instance.id);
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
      await waitUntil(() => groupMembers(last.appPid ?? 0).length === 0, 2000);
    }
    this.archive(dir, instance);
    this.logger.info("instance stopped", { id: instance.id });
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

  async *logs(instances: Instance[], opts: LogOptions): AsyncIterable<LogLine> {
    const since = opts.sinceMs !== undefined ? new Date(Date.now() - opts.sinceMs).toISOString() : undefined;
    const followers: { id: string; f: Follower }[] = [];
    try {
      const backlog: LogLine[] = [];
      for (const inst of instances) {
        const dir = this.logDir(inst);
        let currentEnd: number | undefined;
        if (opts.follow) {
          const f = new Follower(join(dir, LOG_FILE));
          followers.push({ id: inst.id, f });
          currentEnd = f.startOffset;
        }
        const files = logFilesNewestFirst(dir, LOG_FILE);
        for (const p of tailLines(files, { tail: opts.tail, since, currentEnd }))
          backlog.push(toLogLine(inst.id, p));
      }
      // Interleave instances by time; within one instance the file order stands (stable sort).
      if (instances.length > 1) backlog.sort((a, b) => (a.time ?? "").localeCompare(b.time ?? ""));
      for (const l of backlog) yield l;
      if (!opts.follow) return;
      while (!opts.signal?.aborted) {
        await sleep(200, opts.signal);
        for (const { id, f } of followers) {
          const lines: ParsedLine[] = f.poll();
          for (const p of lines) yield toLogLine(id, p);
        }
      }
    } finally {
      for (const { f } of followers) f.close();
    }
  }

  /** The last `n` lines of an instance's log (live or stopped), for failure messages. */
  async lastLogLines(instance: Instance, n: number): Promise<string[]> {
    const files = logFilesNewestFirst(this.logDir(instance), LOG_FILE);
    return tailLines(files, { tail: n }).map((p) => `${p.stream === "stderr" ? "! " : ""}${p.line}`);
  }

  async stats(instance: Instance): Promise<InstanceStats | undefined> {
    const s = readState(this.instanceDir(instance.project, instance.env, instance.id));
    const pgid = s?.appPid ?? instance.appPid;
    const leaderStart = s?.appStartTime;
    if (!pgid) return undefined;
    const leader = readStat(pgid);
    if (leader && leaderStart !== undefined && leader.startTime !== leaderStart) return undefined;
    const before = groupMembers(pgid);
    if (before.length === 0) return undefined;
    const t0 = process.hrtime.bigint();
    const ticks0 = new Map(before.map((p) => [`${p.pid}:${p.startTime}`, p.cpuTicks]));
    await new Promise((r) => setTimeout(r, 250));
    const after = groupMembers(pgid);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    let ticks = 0;
    let memory = 0;
    for (const p of after) {
      ticks += p.cpuTicks - (ticks0.get(`${p.pid}:${p.startTime}`) ?? 0);
      memory += p.rssPages * PAGE_SIZE;
    }
    return { cpu: Math.max(0, ticks / CLOCK_TICKS / seconds), memory };
  }

  async close(): Promise<void> {
    // Instances outlive the driver by design: nothing to stop.
  }

  // ---- internals ----------------------------------------------------------------------------

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

  private async spawnShim(dir: string, cfg: ShimConfig): Promise<number> {
    const { args } = shimEntry();
    const shimEnv: Record<string, string> = {};
    for (const k of ["PATH", "HOME", "LANG", "TZ", "NODE_EXTRA_CA_CERTS"]) {
      const v = process.env[k];
      if (v !== undefined) shimEnv[k] = v;
    }
    const errFd = openSync(join(dir, SHIM_LOG), "a", 0o640);
    let child;
    try {
      child = spawn(process.execPath, args, {
        cwd: dir,
        env: shimEnv,
        detached: true,
        stdio: ["pipe", "ignore", errFd],
      });
    } finally {
      closeSync(errFd);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid as number));
      child.once("error", (e) =>
        reject(new DriverError(NAME, `could not start the supervisor: ${e.message}`)),
      );
    });
    // The configuration (secrets included) goes through the pipe, which closes right after.
    child.stdin?.on("error", () => {});
    child.stdin?.end(JSON.stringify(cfg));
    child.unref();
    return pid;
  }

  private async waitStarted(dir: string, shimPid: number, id: string): Promise<ShimState> {
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const s = readState(dir);
      if (s && s.shimPid === shimPid && (s.appPid !== undefined || s.state !== "starting")) return s;
      if (!isAliveOrStarting(shimPid)) {
        throw new DriverError(NAME, `instance ${id}: the supervisor exited at start${shimLogTail(dir)}`);
      }
      if (Date.now() > deadline)
        throw new DriverError(
          NAME,
          `instance ${id}: the supervisor did not report within ${this.startTimeoutMs} ms${shimLogTail(dir)}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A dead shim's leftovers: its application group, then the directory (logs kept). */
  private reap(dir: string, s: ShimState): void {
    if (killAppGroup(s.appPid, s.appStartTime))
      this.logger.warn("supervisor gone: killed its application process group", { id: s.id, pgid: s.appPid });
    else this.logger.info("supervisor gone: instance removed", { id: s.id });
    this.archive(dir, s);
  }

  /** Moves an instance's logs to logs/<project>/<env>/<service>/<id>/ and removes its directory. */
  private archive(dir: string, i: Pick<Instance, "project" | "env" | "service" | "id">): void {
    if (!existsSync(dir)) return;
    const dest = this.stoppedLogDir(i);
    try {
      mkdirSync(dirname(dest), { recursive: true });
      if (existsSync(join(dir, LOG_DIR))) {
        rmSync(dest, { recursive: true, force: true });
        renameSync(join(dir, LOG_DIR), dest);
        if (existsSync(join(dir, SHIM_LOG))) renameSync(join(dir, SHIM_LOG), join(dest, SHIM_LOG));
      }
    } catch (e) {
      // Two cleaners at once (stop and inspect): the other one moved them.
      this.logger.debug("could not keep the logs of a stopped instance", { id: i.id, error: msg(e) });
    }
    rmSync(dir, { recursive: true, force: true });
    this.pruneStoppedLogs(dirname(dest));
  }

  private pruneStoppedLogs(serviceDir: string): void {
    let entries: { path: string; mtime: number }[];
    try {
      entries = readdirSync(serviceDir).map((n) => {
        const path = join(serviceDir, n);
        return { path, mtime: statSync(path).mtimeMs };
      });
    } catch {
      return;
    }
    entries.sort((a, b) => b.mtime - a.mtime);
    for (const e of entries.slice(this.keepStoppedLogs)) rmSync(e.path, { recursive: true, force: true });
  }
}

// ---- helpers ----------------------------------------------------------------------------------

/** How to start the shim: through tsx when running from sources (tests, tsx), plain node when built. */
export function shimEntry(): { args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith(".ts")) {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return { args: ["--import", pathToFileURL(tsx).href, join(dir, "shim", "main.ts")] };
  }
  return { args: [join(dir, "shim", "main.js")] };
}

function toInstance(s: ShimState, dir: string): Instance {
  return {
    id: s.id,
    project: s.project,
    env: s.env,
    service: s.service,
    revision: s.revision,
    version: s.version,
    slot: s.slot,
    index: s.index,
    state: s.state,
    ...(s.port !== undefined ? { host: s.host ?? "127.0.0.1", port: s.port } : {}),
    pid: s.shimPid,
    ...(s.appPid !== undefined ? { appPid: s.appPid } : {}),
    startedAt: s.startedAt,
    restarts: s.restarts,
    ...(s.lastExit ? { lastExit: s.lastExit } : {}),
    meta: { dir, startTime: s.shimStartTime, appStartTime: s.appStartTime },
  };
}

/** Best effort when the state file is gone: what the Instance itself recorded. */
function fromInstance(i: Instance): ShimState {
  const meta = i.meta ?? {};
  return {
    id: i.id,
    project: i.project,
    env: i.env,
    service: i.service,
    revision: i.revision,
    version: i.version,
    slot: i.slot,
    index: i.index,
    state: i.state,
    shimPid: i.pid ?? 0,
    shimStartTime: typeof meta.startTime === "number" ? meta.startTime : -1,
    appPid: i.appPid,
    appStartTime: typeof meta.appStartTime === "number" ? meta.appStartTime : undefined,
    startedAt: i.startedAt,
    restarts: i.restarts,
  };
}

function checkSignal(s: string): NodeJS.Signals {
  if (!(s in osConstants.signals)) throw new DriverError(NAME, `unknown stop signal "${s}"`);
  return s as NodeJS.Signals;
}

/** One path segment: names come from the spec, but a path must never escape `home`. */
function seg(s: string): string {
  if (!s || s === "." || s === ".." || s.includes("/") || s.includes("\0"))
    throw new DriverError(NAME, `invalid name "${s}" for a directory`);
  return s;
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Alive, or a zombie not reaped yet by us (we are its parent until unref'd handles settle). */
function isAliveOrStarting(pid: number): boolean {
  const s = readStat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

function shimLogTail(dir: string): string {
  const lines = tailLines([join(dir, SHIM_LOG)], { tail: 5 }).map((p) => p.line);
  return lines.length ? `:\n${lines.join("\n")}` : "";
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** A free TCP port on 127.0.0.1 (bound, then released for the instance to take). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    // Not unref'd: a CLI run with nothing else pending would exit before the port is known.
    const srv = createServer();
    srv.on("error", (e) => reject(new DriverError(NAME, `no free port on 127.0.0.1: ${e.message}`)));
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sets or clears the write bits of a tree (symlinks untouched). */
function setWritable(root: string, writable: boolean): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    const mode = writable ? st.mode | 0o200 : st.mode & ~0o222;
    chmodSync(p, mode & 0o7777);
  };
  walk(root);
}

function removeTree(p: string): void {
  try {
    // Directories of a read-only release must be writable again before their entries go.
    const walk = (q: string) => {
      const st = lstatSync(q);
      if (st.isDirectory()) {
        chmodSync(q, (st.mode | 0o700) & 0o7777);
        for (const n of readdirSync(q)) walk(join(q, n));
      }
    };
    walk(p);
  } catch {
    // already gone
  }
  rmSync(p, { recursive: true, force: true });
}

const MAX_OUTPUT = 1024 * 1024;

/** Runs a shell command in its own process group; output capped (the end is kept). */
export function runCommand(
  command: string,
  cwd: string,
  env: Record<string, string>,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    let output = "";
    let note = "";
    const child = spawn("/bin/sh", ["-c", command], {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const add = (c: string) => {
      output += c;
      if (output.length > MAX_OUTPUT) output = output.slice(output.length - MAX_OUTPUT);
    };
    child.stdout.setEncoding("utf8").on("data", add);
    child.stderr.setEncoding("utf8").on("data", add);
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid) signal(-child.pid, sig);
    };
    let forced: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      note = `\n[slipway] timed out after ${opts.timeoutMs} ms`;
      killGroup("SIGTERM");
      forced = setTimeout(() => killGroup("SIGKILL"), 2000);
    }, opts.timeoutMs);
    const onAbort = () => {
      note = "\n[slipway] interrupted";
      killGroup("SIGKILL");
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(new DriverError(NAME, `could not run "${command}": ${e.message}`));
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      clearTimeout(forced);
      opts.signal?.removeEventListener("abort", onAbort);
      killGroup("SIGKILL");
      const exitCode = note.includes("timed out")
        ? 124
        : note.includes("interrupted")
          ? 130
          : (code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0));
      resolve({ exitCode, output: output + note });
    });
  });
}
