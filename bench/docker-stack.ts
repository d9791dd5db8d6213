/**
 * Issue 4 benchmark: a 10-service Docker stack (the offline test app image) in four dependency
 * layers, on the local engine.
 * 1. Time from command to all-healthy:
 *    a. `docker-compose up -d` (Debian's docker-compose) + a wait until Docker reports every
 *       container healthy (healthcheck every 500 ms), what a user would script today;
 *    b. DockerDriver.prepare + start in dependency layers, each layer waiting for HTTP health
 *       (polled every 500 ms) before the next starts — the driver alone, no engine;
 *    c. `slipway deploy` (the real CLI, --in-process: checks, plan, store, proxy, health gates).
 * 2. Failed requests while one service is updated under load (wrk, 4 connections):
 *    `docker-compose up -d` with a changed env (recreates the container) vs
 *    `slipway deploy --only web` (blue-green through the proxy).
 * Run: npx tsx bench/docker-stack.ts   (starts dockerd and builds the test images if needed)
 */
import { resolvedService } from "../src/spec/defaults.js";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DockerDriver } from "../src/drivers/docker/docker-driver.js";
import type { Instance } from "../src/drivers/driver.js";
import type { ResolvedService } from "../src/spec/resolved.js";
import { ensureTestImages, removeProject } from "../test/support/docker.js";
import { freePort } from "../test/support/ports.js";

const ROOT = resolve(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "slipway-bench-docker-"));
const IMAGE = "slipway-test/app:latest";

// name → dependencies; four layers.
const STACK: Record<string, string[]> = {
  db: [],
  cache: [],
  auth: ["db"],
  search: ["db"],
  vector: ["cache"],
  api: ["auth", "search", "vector"],
  chat: ["api"],
  worker: ["api"],
  web: ["api", "chat"],
  admin: ["api"],
};
const layers = (): string[][] => {
  const done = new Set<string>();
  const out: string[][] = [];
  while (done.size < Object.keys(STACK).length) {
    const layer = Object.keys(STACK).filter((s) => !done.has(s) && STACK[s]!.every((d) => done.has(d)));
    layer.forEach((s) => done.add(s));
    out.push(layer);
  }
  return out;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();
async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

// --- a. docker-compose ------------------------------------------------------------------------
function composeFile(webPort: number, version: string): string {
  const lines = ["services:"];
  for (const [name, deps] of Object.entries(STACK)) {
    lines.push(
      `  ${name}:`,
      `    image: ${IMAGE}`,
      `    environment: { PORT: "3000", APP_VERSION: "${name === "web" ? version : "1"}" }`,
      `    healthcheck: { test: ["CMD", "wget", "-qO-", "http://127.0.0.1:3000/health"], interval: 500ms, timeout: 2s, retries: 3 }`,
    );
    if (name === "web") lines.push(`    ports: ["127.0.0.1:${webPort}:3000"]`);
    if (deps.length) lines.push(`    depends_on: [${deps.join(", ")}]`);
  }
  return lines.join("\n") + "\n";
}

async function composeUpToHealthy(dir: string, project: string): Promise<number> {
  const t0 = performance.now();
  execFileSync("docker-compose", ["-p", project, "up", "-d"], { cwd: dir, stdio: "ignore" });
  const ids = execFileSync("docker-compose", ["-p", project, "ps", "-q"], { cwd: dir, encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (;;) {
    const states = docker("inspect", "-f", "{{.State.Health.Status}}", ...ids).split("\n");
    if (states.length === ids.length && states.every((s) => s === "healthy")) break;
    await sleep(100);
  }
  return performance.now() - t0;
}

// --- b. DockerDriver in layers ----------------------------------------------------------------
function svc(name: string): ResolvedService {
  return resolvedService(name, {
    path: work,
    image: IMAGE,
    containerPort: 3000,
    port: 10000,
    env: { APP_VERSION: "1" },
    dependsOn: STACK[name]!,
    stop: { signal: "SIGTERM", grace: 5000 },
    rollout: { strategy: "blue-green", steps: [], sticky: false, drainTimeout: 1000, keepWarm: 0 },
    retain: 1,
    logs: { maxSize: 10 * 1024 * 1024, maxFiles: 2 },
  });
}

async function driverToHealthy(driver: DockerDriver, project: string): Promise<number> {
  const t0 = performance.now();
  const artifacts = new Map(
    await Promise.all(
      Object.keys(STACK).map(async (s) => [s, await driver.prepare(project, "bench", svc(s), 1)] as const),
    ),
  );
  for (const layer of layers()) {
    await Promise.all(
      layer.map(async (s) => {
        const inst: Instance = await driver.start({
          project,
          env: "bench",
          service: svc(s),
          revision: 1,
          version: "1",
          slot: "stable",
          index: 0,
          env_vars: { APP_VERSION: "1" },
          artifact: artifacts.get(s)!,
        });
        while (!(await healthy(`http://${inst.host}:${inst.port}/health`))) await sleep(500);
      }),
    );
  }
  return performance.now() - t0;
}

// --- c. slipway deploy ------------------------------------------------------------------------
function slipwayFile(webPort: number): string {
  const lines = ["project: benchslw", "environments:", "  bench: { target: docker }", "services:"];
  for (const [name, deps] of Object.entries(STACK)) {
    lines.push(
      `  ${name}:`,
      `    image: ${IMAGE}`,
      `    containerPort: 3000`,
      ...(name === "web" ? [`    port: ${webPort}`] : []),
      `    env: { APP_VERSION: "${name === "web" ? "${VERSION}" : "1"}" }`,
      `    health: { http: /health, interval: 500ms }`,
      `    rollout: { drainTimeout: 2s, keepWarm: 0s }`,
    );
    if (deps.length) lines.push(`    dependsOn: [${deps.join(", ")}]`);
  }
  return lines.join("\n") + "\n";
}

const dist = join(ROOT, "dist", "cli", "main.js");
const slipwayArgs = existsSync(dist) ? [dist] : ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const slipwayEnv = { ...process.env, SLIPWAY_HOME: join(work, "home"), NO_COLOR: "1" };
function slipway(file: string, ...args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...slipwayArgs, "-f", file, ...args, "--in-process"], {
    env: slipwayEnv,
    encoding: "utf8",
    cwd: ROOT,
  });
  if (r.status !== 0) throw new Error(`slipway ${args.join(" ")} failed:\n${r.stderr}`);
  return performance.now() - t0;
}
function stopProxy() {
  const pidFile = join(work, "home", "proxy", "proxy.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    /* already gone */
  }
}

// --- load ------------------------------------------------------------------------------------
interface Load {
  requests: number;
  errors: number;
  detail: string;
}
function underLoad(url: string, seconds: number): { done: Promise<Load> } {
  const child = spawn("wrk", ["-t1", "-c4", `-d${seconds}s`, "--timeout", "5s", url], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const done = new Promise<Load>((res) =>
    child.on("exit", () => {
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = Number(/Non-2xx or socket errors: (\d+)/.exec(out)?.[1] ?? 0);
      const sockErr = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      res({ requests, errors: Math.max(non2xx, sockErr), detail: sock ? sock[0] : "no socket errors" });
    }),
  );
  return { done };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  await ensureTestImages();
  const RUNS = 3;
  const compose: number[] = [];
  const drv: number[] = [];
  const slw: number[] = [];
  const composeDir = join(work, "compose");
  execFileSync("mkdir", ["-p", composeDir]);
  const composePort = await freePort();
  const slwPort = await freePort();
  const slwFile = join(work, "slipway.yaml");
  writeFileSync(slwFile, slipwayFile(slwPort));
  const driver = new DockerDriver({ home: work });
  let load: { compose: Load; slipway: Load } | undefined;
  try {
    for (let i = 0; i < RUNS; i++) {
      const cp = `benchcmp${i}`;
      writeFileSync(join(composeDir, "docker-compose.yml"), composeFile(composePort, "1"));
      compose.push(await composeUpToHealthy(composeDir, cp));
      if (i === RUNS - 1) {
        // Update web under load with Compose: the container is recreated in place.
        const l = underLoad(`http://127.0.0.1:${composePort}/`, 8);
        await sleep(2000);
        writeFileSync(join(composeDir, "docker-compose.yml"), composeFile(composePort, "2"));
        execFileSync("docker-compose", ["-p", cp, "up", "-d"], { cwd: composeDir, stdio: "ignore" });
        const composeLoad = await l.done;
        load = { compose: composeLoad, slipway: { requests: 0, errors: 0, detail: "" } };
      }
      execFileSync("docker-compose", ["-p", cp, "down", "-t", "2"], { cwd: composeDir, stdio: "ignore" });

      const dp = `benchdrv${i}`;
      drv.push(await driverToHealthy(driver, dp));
      await removeProject(dp);

      slw.push(slipway(slwFile, "deploy", "bench", "--version", "1", "--yes"));
      if (i === RUNS - 1 && load) {
        const l = underLoad(`http://127.0.0.1:${slwPort}/`, 8);
        await sleep(2000);
        slipway(slwFile, "deploy", "bench", "--version", "2", "--only", "web", "--yes");
        load.slipway = await l.done;
      }
      slipway(slwFile, "destroy", "bench", "--yes");
      await removeProject("benchslw");
    }
  } finally {
    stopProxy();
    await removeProject("benchslw").catch(() => undefined);
    for (let i = 0; i < RUNS; i++) {
      spawnSync("docker-compose", ["-p", `benchcmp${i}`, "down", "-t", "1"], {
        cwd: composeDir,
        stdio: "ignore",
      });
      await removeProject(`benchdrv${i}`).catch(() => undefined);
    }
    rmSync(work, { recursive: true, force: true });
  }

  const lines = [
    `10-service stack in 4 dependency layers (${IMAGE}), ${RUNS} runs each, median [all runs]`,
    `  docker-compose up -d + wait healthy      ${fmt(median(compose))}  [${compose.map(fmt).join(", ")}]`,
    `  DockerDriver.start in layers + health    ${fmt(median(drv))}  [${drv.map(fmt).join(", ")}]`,
    `  slipway deploy (CLI, --in-process)       ${fmt(median(slw))}  [${slw.map(fmt).join(", ")}]`,
    "",
    "Update of one service (web) under load: wrk -t1 -c4 for 8 s, update issued after 2 s",
    `  docker-compose up -d (recreate)          ${load?.compose.requests} requests completed, ${load?.compose.errors} failed (${load?.compose.detail})`,
    `  slipway deploy --only web (blue-green)   ${load?.slipway.requests} requests completed, ${load?.slipway.errors} failed (${load?.slipway.detail})`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

// freePort() unrefs its probe server: keep the loop alive until main() is done.
const keepAlive = setInterval(() => {}, 1000);
try {
  await main();
} finally {
  clearInterval(keepAlive);
}
