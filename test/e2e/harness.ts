/**
 * End-to-end harness: a temporary project and SLIPWAY_HOME, and the real CLI (dist, built by
 * `npm test` before vitest) spawned as users run it.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, waitFor } from "../support/ports.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "slipway.js");

/** A tiny HTTP app whose behaviour the tests steer through env vars. */
export const APP = `
import { createServer } from "node:http";
const version = process.env.SLIPWAY_VERSION;
if (process.env.CRASH_AT_START === "1") { console.error("boom: crashing at start"); process.exit(3); }
const srv = createServer((req, res) => {
  if (req.url === "/health") {
    if (process.env.FAIL_HEALTH === "1") { res.writeHead(500); return res.end("unhealthy\\n"); }
    return res.end("ok");
  }
  if (req.url?.startsWith("/slow")) { setTimeout(() => res.end(version), Number(process.env.SLOW_MS ?? 1500)); return; }
  res.end(version);
});
srv.keepAliveTimeout = 30000;
if (Number(process.env.CRASH_AFTER_MS ?? 0) > 0) setTimeout(() => { console.error("crashing after " + process.env.CRASH_AFTER_MS + " ms"); process.exit(4); }, Number(process.env.CRASH_AFTER_MS));
setTimeout(() => srv.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening " + version + " on " + process.env.PORT)), Number(process.env.START_DELAY_MS ?? 0));
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

export const WORKER = `
console.log("worker " + process.env.SLIPWAY_VERSION + " up");
setInterval(() => {}, 1000);
process.on("SIGTERM", () => process.exit(0));
`;

export interface Project {
  dir: string;
  home: string;
  file: string;
  ports: { web: number; api: number };
  env: NodeJS.ProcessEnv;
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): CliResult;
  cliAsync(args: string[], opts?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  get(service: "web" | "api", path?: string): Promise<{ status: number; body: string }>;
  /** A new API token (`slipway tokens create`, over the local socket as its owner): its value. */
  token(name: string, role: string, extra?: string[]): string;
  cleanup(): Promise<void>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = unknown>(): T;
}

function result(code: number | null, stdout: string, stderr: string): CliResult {
  return {
    code: code ?? -1,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`stdout is not one JSON document:\n${stdout}\n--- stderr ---\n${stderr}`);
      }
    },
  };
}

/**
 * A spec with one service, `api` behind the proxy on `port`, small and fast timings: what the
 * analysis tests deploy. `env` and `rollout` are flow-map bodies; `rest` follows the services.
 */
export function apiOnlySpec(port: number, o: { env: string; rollout: string; rest: string }): string {
  return `project: e2e
environments:
  development:
    target: process
services:
  api:
    run: node app.js
    path: ./app
    port: ${port}
    env: { RELEASE: "\${VERSION}", ${o.env} }
    health: { http: /health, interval: 200ms, timeout: 1s }
    stop: { grace: 2s }
    rollout: { ${o.rollout} }
${o.rest}`;
}

/**
 * The services' env holds RELEASE: \${VERSION}, so every release label is a new release of each
 * service, as the tests mean it (a service whose spec and files did not change is otherwise kept).
 */
export function specYaml(ports: { web: number; api: number }, extra = ""): string {
  return `project: e2e
environments:
  development:
    target: process
  production:
    target: process
    protect: true
services:
  api:
    run: node app.js
    path: ./app
    port: ${ports.api}
    env:
      RELEASE: "\${VERSION}"
      FAIL_HEALTH: "\${FAIL_HEALTH:-0}"
      CRASH_AT_START: "\${CRASH_AT_START:-0}"
      START_DELAY_MS: "\${START_DELAY_MS:-0}"
      CRASH_AFTER_MS: "\${CRASH_AFTER_MS:-0}"
    health: { http: /health, interval: 200ms, timeout: 1s, startTimeout: "\${START_TIMEOUT:-10s}" }
    restart: { backoff: 200ms, crashLoop: { restarts: 3, within: 30s, rollbackAfter: "\${CRASH_ROLLBACK_AFTER:-5m}" } }
    stop: { grace: 3s }
    rollout: { drainTimeout: 5s, keepWarm: "\${KEEP_WARM:-0s}" }
  web:
    run: node app.js
    path: ./app
    port: ${ports.web}
    env:
      RELEASE: "\${VERSION}"
      FAIL_HEALTH: "\${WEB_FAIL_HEALTH:-0}"
    health: { http: /health, interval: 200ms, timeout: 1s, startTimeout: "\${WEB_START_TIMEOUT:-60s}" }
    dependsOn: [api]
    stop: { grace: 3s }
    rollout: { drainTimeout: 5s, keepWarm: "\${KEEP_WARM:-0s}" }
  worker:
    run: node worker.js
    path: ./app
    env: { RELEASE: "\${VERSION}" }
    dependsOn: [api]
    stop: { grace: 2s }
${extra}`;
}

export async function makeProject(extra = ""): Promise<Project> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-e2e-"));
  const home = join(dir, ".slipway-home");
  mkdirSync(join(dir, "app"), { recursive: true });
  writeFileSync(join(dir, "app", "app.js"), APP);
  writeFileSync(join(dir, "app", "worker.js"), WORKER);
  writeFileSync(join(dir, "app", "package.json"), '{ "type": "module" }');
  const ports = { web: await freePort(), api: await freePort() };
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, specYaml(ports, extra));
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1" };
  delete env.SLIPWAY_DATABASE_URL;
  const base = ["-f", file];
  const p: Project = {
    dir,
    home,
    file,
    ports,
    env,
    cli(args, o = {}) {
      const r = spawnSync(process.execPath, [BIN, ...base, ...args], {
        env: { ...env, ...o.env },
        encoding: "utf8",
        timeout: o.timeoutMs ?? 120_000,
        input: o.input,
      });
      return result(r.status, r.stdout, r.stderr);
    },
    cliAsync(args, o = {}) {
      return new Promise((res) => {
        const child = spawn(process.execPath, [BIN, ...base, ...args], { env: { ...env, ...o.env } });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("close", (code) => res(result(code, out, err)));
      });
    },
    // A fresh connection per request: the tests block the event loop in spawnSync, so a pooled
    // keep-alive socket could look alive after the server closed it.
    get(service, path = "/") {
      return new Promise((resolve, reject) => {
        const req = httpGet(
          { host: "127.0.0.1", port: ports[service], path, agent: false, timeout: 10_000 },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
      });
    },
    token(name, role, extra = []) {
      const r = p.cli(["tokens", "create", name, "--role", role, ...extra]);
      if (r.code !== 0) throw new Error(`tokens create ${name} failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    async cleanup() {
      // Containers and cluster objects live outside `dir`: destroy them through the CLI. A project
      // on the process target lives under `dir` whole (daemon, proxy, shims, apps, state), so
      // killing what runs there and removing it does what destroy would, without one more CLI.
      if (!processTargetOnly(file))
        spawnSync(process.execPath, [BIN, ...base, "destroy", "development", "--in-process", "--yes"], {
          env,
          timeout: 60_000,
        });
      killDaemon(home);
      const proxyPid = join(home, "proxy", "proxy.pid");
      if (existsSync(proxyPid)) {
        try {
          process.kill(Number(readFileSync(proxyPid, "utf8").trim()), "SIGKILL");
        } catch {
          /* gone */
        }
      }
      // Anything still running from this project (shims, apps): kill it, shims and apps alike,
      // again if a shim started an app meanwhile.
      for (let round = 0; round < 3; round++) {
        const left = processesUnder(dir);
        if (!left.length) break;
        for (const proc of left) {
          try {
            process.kill(proc.pid, "SIGKILL");
          } catch {
            /* gone */
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return p;
}

/** Every environment of the spec file runs on the process target (no containers, no cluster). */
function processTargetOnly(file: string): boolean {
  try {
    const targets = [...readFileSync(file, "utf8").matchAll(/^\s*target:\s*(.*?)\s*$/gm)].map((m) => m[1]);
    return targets.length > 0 && targets.every((t) => t === "process");
  } catch {
    return false;
  }
}

/** The daemon's daemon.json: its TCP URL and its unix socket. */
export function daemonInfo(home: string): { url: string; socket: string; pid: number } {
  return JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as {
    url: string;
    socket: string;
    pid: number;
  };
}

export function daemonPid(home: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

export function killDaemon(home: string, signal: NodeJS.Signals = "SIGKILL"): void {
  const pid = daemonPid(home);
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** Live processes whose working directory or command line is under `dir` (shims, apps, proxy, daemon). */
export function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim();
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // zombie
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        /* no access */
      }
      if (cwd.startsWith(dir) || cmd.includes(dir)) found.push({ pid: Number(name), cmd });
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

/** The app processes (node app.js / worker.js) of a project, by working directory. */
export function appProcesses(dir: string): { pid: number; cmd: string }[] {
  return processesUnder(dir).filter((p) => /^node (app|worker)\.js/.test(p.cmd));
}

export { waitFor };
