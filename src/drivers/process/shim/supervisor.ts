/**
 * The supervisor ("shim") of one process instance. It runs in its own detached process so the
 * instance outlives the daemon: it spawns the application in its own process group, writes its
 * output to rotated log files, restarts it per the restart policy and keeps the state file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { execCommand } from "../exec-command.js";
import { RotatingLog } from "../log-writer.js";
import { groupAlive, readStat, signal } from "../procfs.js";
import { sleep } from "../../../util/sleep.js";
import {
  LOG_DIR,
  LOG_FILE,
  STATE_FILE,
  STOP_FILE,
  readJson,
  writeJsonAtomic,
  type ShimConfig,
  type ShimState,
  type StopRequest,
} from "../state.js";

export class Supervisor {
  private readonly log: RotatingLog;
  private readonly state: ShimState;
  private child?: ChildProcess;
  private restartTimer?: NodeJS.Timeout;
  private stableTimer?: NodeJS.Timeout;
  /** Restarts since the last stable run: the exponent of the backoff. */
  private consecutive = 0;
  /** Times of recent restarts, for crash-loop detection. */
  private recent: number[] = [];
  private stopping?: Promise<void>;
  private resolveDone!: () => void;
  /** Resolves when the supervisor has stopped the application for good. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(private readonly cfg: ShimConfig) {
    this.log = new RotatingLog(join(cfg.instanceDir, LOG_DIR), cfg.logs.maxSize, cfg.logs.maxFiles, LOG_FILE);
    const self = readStat(process.pid);
    this.state = {
      ...cfg.identity,
      state: "starting",
      shimPid: process.pid,
      shimStartTime: self?.startTime ?? 0,
      startedAt: new Date().toISOString(),
      restarts: 0,
    };
  }

  start(): void {
    this.save();
    this.spawnApp();
  }

  /** Stops the application: its signal to the whole group, `grace`, then SIGKILL. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.stableTimer);
    const req = readJson<StopRequest>(join(this.cfg.instanceDir, STOP_FILE));
    const sig = req?.signal ?? this.cfg.stopSignal;
    const graceMs = req?.graceMs ?? this.cfg.graceMs;
    const pgid = this.state.appPid;
    if (pgid && groupAlive(pgid)) {
      this.log.line("stderr", `[slipway] stopping: ${sig} to the process group, grace ${graceMs} ms`);
      signal(-pgid, sig);
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && groupAlive(pgid)) await sleep(50);
      if (groupAlive(pgid)) {
        this.log.line("stderr", `[slipway] grace period over: SIGKILL to the process group`);
        signal(-pgid, "SIGKILL");
        while (groupAlive(pgid)) await sleep(20);
      }
    }
    // Let the child's 'close' deliver the remaining output before the file is closed.
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      await Promise.race([new Promise((r) => this.child?.once("close", r)), sleep(1000)]);
    this.state.state = "exited";
    this.state.stopped = true;
    this.save();
    this.log.close();
    this.resolveDone();
  }

  private spawnApp(): void {
    const cfg = this.cfg;
    let child: ChildProcess;
    try {
      // `exec` for a simple command: the pid recorded below is then the app's, not a shell's.
      child = spawn("/bin/sh", ["-c", execCommand(cfg.run)], {
        cwd: cfg.cwd,
        env: cfg.env,
        // Own session and process group: signals and kills reach the whole application tree.
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      this.onExit(127, null, `could not start: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    let exited = false;
    child.stdout?.setEncoding("utf8").on("data", (c: string) => this.log.write("stdout", c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => this.log.write("stderr", c));
    child.on("error", (e) => {
      if (exited) return;
      exited = true;
      this.onExit(127, null, `could not start: ${e.message}`);
    });
    // 'exit', not 'close': a background child of the app may hold the pipes open; the group
    // kill in onExit() takes care of it.
    child.on("exit", (code, sig) => {
      if (exited) return;
      exited = true;
      this.onExit(code, sig);
    });
    if (child.pid === undefined) return;
    const startedAt = Date.now();
    this.state.appPid = child.pid;
    this.state.appStartTime = readStat(child.pid)?.startTime;
    this.state.appStartedAt = new Date(startedAt).toISOString();
    if (this.state.state !== "crashloop") this.state.state = "running";
    this.save();
    // A run that lasts a whole crash-loop window resets the backoff and clears the crash loop.
    this.stableTimer = setTimeout(() => {
      if (this.child !== child || this.stopping) return;
      this.consecutive = 0;
      this.recent = [];
      if (this.state.state !== "running") {
        this.state.state = "running";
        this.save();
      }
    }, cfg.restart.crashLoopWithinMs);
    this.stableTimer.unref();
  }

  private onExit(code: number | null, sig: NodeJS.Signals | null, note?: string): void {
    clearTimeout(this.stableTimer);
    this.state.lastExit = { code, signal: sig, at: new Date().toISOString() };
    // When stopping, the rest of the group still gets its grace period (doStop).
    if (this.stopping) return;
    // Whatever the main process left behind in its group goes with it: no stray holder of the port.
    if (this.state.appPid) signal(-this.state.appPid, "SIGKILL");
    const { restart } = this.cfg;
    const how = sig ? `signal ${sig}` : `code ${code}`;
    if (note) this.log.line("stderr", `[slipway] ${note}`);
    const failed = sig !== null || code !== 0;
    if (restart.policy === "no" || (restart.policy === "on-failure" && !failed)) {
      this.log.line(
        "stderr",
        `[slipway] exited with ${how}; restart policy "${restart.policy}": not restarted`,
      );
      this.state.state = "exited";
      this.save();
      return;
    }
    const now = Date.now();
    this.recent = this.recent.filter((t) => now - t < restart.crashLoopWithinMs);
    this.recent.push(now);
    let delay: number;
    if (this.recent.length >= restart.crashLoopRestarts) {
      this.state.state = "crashloop";
      delay = restart.maxBackoffMs;
    } else {
      this.state.state = "restarting";
      delay = Math.min(restart.backoffMs * 2 ** this.consecutive, restart.maxBackoffMs);
    }
    this.consecutive++;
    this.log.line(
      "stderr",
      `[slipway] exited with ${how}; restart ${this.state.restarts + 1} in ${delay} ms` +
        (this.state.state === "crashloop" ? " (crash loop)" : ""),
    );
    this.save();
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.state.restarts++;
      this.spawnApp();
    }, delay);
  }

  private save(): void {
    writeJsonAtomic(join(this.cfg.instanceDir, STATE_FILE), this.state);
  }
}
