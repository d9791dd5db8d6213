/**
 * ProxyClient: the daemon's side of the TrafficRouter contract. Talks HTTP to the proxy's
 * control socket and starts the proxy process (detached, so a daemon restart or crash never
 * drops a request) when nothing answers.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { request } from "node:http";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DriverError, Refused } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { Route, TargetStats, TrafficRouter } from "./contract.js";
import { proxyWorkers } from "./cluster-ipc.js";
import { proxyPaths } from "./paths.js";
import { sleep } from "../util/sleep.js";

export interface ProxyClientOptions {
  home: string;
  logger?: Logger;
  /** How long ensureRunning waits for a freshly spawned proxy to answer. Default 15 s. */
  startTimeoutMs?: number;
  /**
   * Worker processes of a proxy this client starts (SLIPWAY_PROXY_WORKERS in its environment);
   * default: the variable as this process has it (unset = one process). A proxy already running
   * keeps its own.
   */
  workers?: number | "auto";
}

export interface ProxyHealth {
  ok: boolean;
  pid: number;
  routes: number;
  uptimeSeconds: number;
  /** With several worker processes: each one's pid and the requests it answered. */
  workers?: { pid: number; requests: number }[];
}

/** A spawn lock older than this is left over by a crashed spawner. */
const STALE_LOCK_MS = 30_000;

/** The command that runs the proxy entry: sources under tsx (tests, tsx), compiled JS from dist/. */
export function proxyEntry(): string[] {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith(".ts")) {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return ["--import", pathToFileURL(tsx).href, join(dir, "main.ts")];
  }
  return [join(dir, "main.js")];
}

class Unreachable extends Error {}

export class ProxyClient implements TrafficRouter {
  readonly home: string;
  private readonly paths: ReturnType<typeof proxyPaths>;
  private readonly log: Logger;
  private readonly startTimeoutMs: number;
  private readonly workers: number | "auto" | undefined;

  constructor(opts: ProxyClientOptions) {
    this.home = opts.home;
    this.paths = proxyPaths(opts.home);
    this.log = opts.logger ?? silentLogger;
    this.startTimeoutMs = opts.startTimeoutMs ?? 15_000;
    this.workers = opts.workers;
  }

  /** The proxy's health, or undefined when nothing answers on the control socket. */
  async health(): Promise<ProxyHealth | undefined> {
    try {
      return JSON.parse(await this.raw("GET", "/health", undefined, 2_000)) as ProxyHealth;
    } catch {
      return undefined;
    }
  }

  async ensureRunning(): Promise<void> {
    const running = await this.health();
    if (running) return this.checkWorkers(running);
    await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      let fh;
      try {
        fh = await open(this.paths.spawnLock, "wx", 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        // Someone else is starting it: wait for it to answer.
        if (await this.health()) return;
        if (await this.lockIsStale()) {
          await unlink(this.paths.spawnLock).catch(() => {});
          continue;
        }
        if (Date.now() > deadline)
          throw new DriverError(
            "proxy",
            `another process is starting the proxy (${this.paths.spawnLock}) and it does not answer`,
          );
        await sleep(100);
        continue;
      }
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        if (await this.health()) return;
        await this.spawnAndWait(deadline);
        return;
      } finally {
        await unlink(this.paths.spawnLock).catch(() => {});
      }
    }
  }

  private warnedWorkers = false;

  /** A running proxy keeps its worker count (it outlives the daemon): said once if another is asked. */
  private checkWorkers(h: ProxyHealth): void {
    if (this.warnedWorkers) return;
    let asked: number;
    try {
      const v = this.workers === undefined ? process.env.SLIPWAY_PROXY_WORKERS : String(this.workers);
      asked = proxyWorkers(v, availableParallelism());
    } catch {
      return; // not a valid count: the proxy refuses it when it starts
    }
    const has = h.workers?.length ?? 1;
    if (has === asked) return;
    this.warnedWorkers = true;
    this.log.warn("the running proxy keeps its worker processes until it restarts", {
      running: has,
      asked,
      apply:
        `kill -TERM ${h.pid}: it drains and exits, and the daemon starts it again within seconds with ` +
        `${asked} (its routes kept; new connections are refused until then)`,
    });
  }

  private async lockIsStale(): Promise<boolean> {
    try {
      const [text, st] = await Promise.all([
        readFile(this.paths.spawnLock, "utf8"),
        stat(this.paths.spawnLock),
      ]);
      const pid = Number(text.trim());
      if (Date.now() - st.mtimeMs > STALE_LOCK_MS) return true;
      if (!pid) return false; // being written
      return !alive(pid);
    } catch {
      return false;
    }
  }

  private async spawnAndWait(deadline: number): Promise<void> {
    const logFd = openSync(this.paths.log, "a", 0o600);
    let exited: string | undefined;
    try {
      const child = spawn(process.execPath, [...proxyEntry(), "--home", this.home], {
        detached: true,
        stdio: ["ignore", logFd, logFd],
        cwd: this.paths.dir,
        env:
          this.workers === undefined
            ? process.env
            : { ...process.env, SLIPWAY_PROXY_WORKERS: String(this.workers) },
      });
      child.once("exit", (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
      child.once("error", (e) => (exited = e.message));
      child.unref();
      this.log.info("proxy started", { pid: child.pid, log: this.paths.log });
    } finally {
      closeSync(logFd);
    }
    while (Date.now() < deadline) {
      if (await this.health()) return;
      if (exited) break;
      await sleep(50);
    }
    const tail = await readFile(this.paths.log, "utf8")
      .then((t) => t.trimEnd().split("\n").slice(-10).join("\n"))
      .catch(() => "");
    throw new DriverError(
      "proxy",
      `${exited ? `the proxy exited (${exited})` : "the proxy did not answer in time"}; last lines of ${this.paths.log}:\n${tail}`,
    );
  }

  async setRoute(route: Route): Promise<void> {
    await this.call("PUT", `/routes/${encodeURIComponent(route.key)}`, route);
  }

  async removeRoute(key: string): Promise<void> {
    await this.call("DELETE", `/routes/${encodeURIComponent(key)}`);
  }

  async getRoutes(): Promise<Route[]> {
    return JSON.parse(await this.call("GET", "/routes")) as Route[];
  }

  async stats(): Promise<TargetStats[]> {
    return JSON.parse(await this.call("GET", "/stats")) as TargetStats[];
  }

  async waitDrained(targetIds: string[], timeoutMs: number): Promise<{ drained: boolean; inFlight: number }> {
    const body = await this.call(
      "POST",
      "/wait-drained",
      { targets: targetIds, timeoutMs },
      timeoutMs + 10_000,
    );
    return JSON.parse(body) as { drained: boolean; inFlight: number };
  }

  /** Prometheus text of the per-target stats. */
  async metrics(): Promise<string> {
    return this.call("GET", "/metrics");
  }

  /**
   * Prometheus text when a proxy runs, undefined when none answers: a scrape must not start a
   * proxy nobody needs (the daemon's tick supervises it).
   */
  async scrape(timeoutMs = 5_000): Promise<string | undefined> {
    try {
      return await this.raw("GET", "/metrics", undefined, timeoutMs);
    } catch (e) {
      if (e instanceof Unreachable) return undefined;
      throw e;
    }
  }

  /** Graceful stop (SIGTERM to the pid in proxy.pid); resolves once the process is gone. */
  async stop(timeoutMs = 60_000): Promise<boolean> {
    let pid: number;
    try {
      pid = Number((await readFile(this.paths.pid, "utf8")).trim());
    } catch {
      return false;
    }
    if (!pid || !alive(pid)) return false;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    return !alive(pid);
  }

  /** A control call; starts the proxy and retries once when nothing answers (it may have been restarted). */
  private async call(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<string> {
    try {
      return await this.raw(method, path, body, timeoutMs);
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      await this.ensureRunning();
      try {
        return await this.raw(method, path, body, timeoutMs);
      } catch (e2) {
        throw e2 instanceof Unreachable ? new DriverError("proxy", e2.message) : e2;
      }
    }
  }

  private raw(method: string, path: string, body: unknown, timeoutMs: number): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.paths.socket,
          method,
          path,
          headers: payload
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : undefined,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(text);
            let msg = text;
            try {
              msg = (JSON.parse(text) as { error?: string }).error ?? text;
            } catch {
              // plain text
            }
            // Another route holds the domain: a refusal (exit 4), not a failure of the proxy.
            if (status === 409 && msg.includes("is already routed on")) return reject(new Refused(msg));
            reject(new DriverError("proxy", msg || `${method} ${path}: HTTP ${status}`));
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(new DriverError("proxy", `${method} ${path}: no answer within ${timeoutMs} ms`)),
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED")
          reject(new Unreachable(`the proxy does not answer on ${this.paths.socket} (${e.code})`));
        else
          reject(e instanceof DriverError ? e : new DriverError("proxy", `${method} ${path}: ${e.message}`));
      });
      req.end(payload);
    });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
