/**
 * Rollback on errors (issue 5): a release that is live and healthy starts returning 5 % errors at
 * t0 under 200 req/s. How long until 100 % of the traffic is back on the previous version, with
 * nobody at the keyboard? Slipway's daemon watches the release (`analysis.watch`, interval 2 s,
 * error rate > 1 %, failureLimit 1, minSamples 20) and rolls back by itself; the previous release
 * is kept warm, so the rollback is a traffic switch. Goal: ≤ interval + 2 s = 4 s.
 *
 * t0 is at a random phase of the measurement grid (the watch's windows are not aligned with it).
 * "Back on the old version" = the answer to the first request of the all-old tail (every request
 * sent after it was answered by the old version). Detection = the `analysis.breach` alert's time.
 *
 * Compared with Flagger's documented bound (rollback after `threshold` failed checks, one check
 * per `interval`, interval 1m by default) — a bound from its docs, not run here (no Kubernetes).
 *
 * Prints the request rate the load actually achieved beside the configured one (a loaded machine
 * sends less: each of the 8 loops waits for its answer and does not catch up).
 *
 *   npm run build && npx tsx bench/rollback-on-errors.ts [--rounds 5] [--rate 200]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { freePort } from "../test/support/ports.js";
import { killDaemon, processesUnder } from "../test/e2e/harness.js";
import { startLoad, type LoadReport, type Sample } from "../test/e2e/load.js";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "5" }, rate: { type: "string", default: "200" } },
});
const ROUNDS = Number(values.rounds);
const RATE = Number(values.rate);
const INTERVAL_S = 2;

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "slipway.js");

// Every 20th request is a 500 once the flag file exists: exactly 5 %, from the moment it appears.
const APP = `
import { createServer } from "node:http";
import { existsSync } from "node:fs";
const version = process.env.SLIPWAY_VERSION;
const flag = process.env.ERROR_FLAG || "";
let n = 0;
let on = false;
setInterval(() => { on = !!flag && existsSync(flag); }, 5).unref();
const srv = createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  if (on && ++n % 20 === 0) { res.writeHead(500); return res.end("error " + version); }
  res.end(version);
});
srv.keepAliveTimeout = 30000;
srv.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(dir: string, env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [BIN, "-f", join(dir, "slipway.yaml"), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("close", (code) => res({ code: code ?? -1, out }));
  });
}

interface Round {
  /** s from t0 to the breach alert. */
  detect: number;
  /** s from t0 until 100 % of the traffic is answered by the old version. */
  back: number;
  /** 5xx answers the users saw between t0 and then. */
  errors: number;
  /** Requests per second actually sent from t0 - 2 s until then (each loop waits for its answer, so a loaded machine sends less). */
  rps: number;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-rollback-errors-"));
  const home = join(dir, "home");
  const port = await freePort();
  mkdirSync(join(dir, "app"), { recursive: true });
  writeFileSync(join(dir, "app", "app.js"), APP);
  writeFileSync(join(dir, "app", "package.json"), '{ "type": "module" }');
  writeFileSync(
    join(dir, "slipway.yaml"),
    `project: bench
environments:
  production:
    target: process
services:
  api:
    run: node app.js
    path: ./app
    port: ${port}
    env: { ERROR_FLAG: "\${ERROR_FLAG:-}", RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    stop: { grace: 2s }
    rollout: { drainTimeout: 2s, keepWarm: 10m }
analysis:
  interval: ${INTERVAL_S}s
  bake: 0s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 20 }
  watch: { autoRollbackWindow: 10m }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1" };
  delete env.SLIPWAY_DATABASE_URL;
  const rounds: Round[] = [];
  let overall: LoadReport | undefined;
  const load = startLoad({ url: `http://127.0.0.1:${port}`, rate: RATE, concurrency: 8 });
  try {
    const first = await cli(dir, env, ["deploy", "production", "--version", "good"]);
    if (first.code !== 0) throw new Error(`deploy good failed:\n${first.out}`);
    for (let i = 1; i <= ROUNDS; i++) {
      const flag = join(dir, `errors-${i}.on`);
      const bad = `bad${i}`;
      const d = await cli(dir, { ...env, ERROR_FLAG: flag }, ["deploy", "production", "--version", bad]);
      if (d.code !== 0) throw new Error(`deploy ${bad} failed:\n${d.out}`);
      // Healthy for a while (the watch starts within a housekeeping tick), then a random phase.
      await sleep(3000 + Math.random() * INTERVAL_S * 1000);
      const t0 = Date.now();
      writeFileSync(flag, "on");
      await load.waitFor((s) => s.version === "good", t0 + 50);
      // Let the tail show it is all "good" for a second.
      let lastOther = t0;
      for (;;) {
        await sleep(1000);
        const after = load.samples.filter((s) => s.t >= t0);
        lastOther = after.filter((s) => s.version !== "good").reduce((m, s) => Math.max(m, s.t), t0);
        if (Date.now() - lastOther > 1000) break;
        if (Date.now() - t0 > 60_000) throw new Error("traffic never went back to the good version");
      }
      const after = load.samples.filter((s) => s.t >= t0).sort((a, b) => a.t - b.t);
      const tail = after.find((s) => s.t > lastOther && s.version === "good") as Sample;
      const store = SqliteStore.open({ home });
      const events = await store.listEvents("bench", "production");
      await store.close();
      const breach = events.filter((e) => e.kind === "analysis.breach" && Date.parse(e.time) >= t0).at(0);
      const end = tail.t + tail.ms;
      const r: Round = {
        detect: breach ? (Date.parse(breach.time) - t0) / 1000 : NaN,
        back: (end - t0) / 1000,
        errors: after.filter((s) => s.t <= tail.t && s.status >= 500).length,
        rps: load.samples.filter((s) => s.t >= t0 - 2000 && s.t < end).length / ((end - t0 + 2000) / 1000),
      };
      rounds.push(r);
      console.log(
        `round ${i}: breach alert ${r.detect.toFixed(2)} s after t0, 100 % back on the old version after ${r.back.toFixed(2)} s; ${r.errors} error answers seen; ${r.rps.toFixed(0)} req/s sent around the incident`,
      );
    }
  } finally {
    overall = await load.stop();
    await cli(dir, env, ["destroy", "production", "--yes", "--in-process"]);
    killDaemon(home);
    const pidFile = join(home, "proxy", "proxy.pid");
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL");
      } catch {
        /* gone */
      }
    }
    for (const p of processesUnder(dir)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const med = (xs: number[]) => sorted(xs)[Math.floor((xs.length - 1) / 2)];
  const back = rounds.map((r) => r.back);
  const detect = rounds.map((r) => r.detect);
  const goal = INTERVAL_S + 2;
  console.log("");
  console.log(
    `Slipway, daemon watch (interval ${INTERVAL_S} s, error rate > 1 %, failureLimit 1, keep-warm), ${RATE} req/s configured, ${cpus().length} cores`,
  );
  const rps = rounds.map((r) => r.rps);
  console.log(
    `  load achieved:                       ${overall?.rps.toFixed(0)} req/s over the run (${overall?.requests} requests), around the incidents median ${med(rps).toFixed(0)} req/s, min ${Math.min(...rps).toFixed(0)} req/s`,
  );
  console.log(
    `  time to detect (breach alert):      median ${med(detect).toFixed(2)} s, max ${Math.max(...detect).toFixed(2)} s`,
  );
  console.log(
    `  time until 100 % on the old version: median ${med(back).toFixed(2)} s, max ${Math.max(...back).toFixed(2)} s (n=${rounds.length})   goal ≤ interval + 2 s = ${goal.toFixed(2)} s: ${Math.max(...back) <= goal ? "met" : "NOT met"}`,
  );
  console.log(`  error answers users saw per incident: median ${med(rounds.map((r) => r.errors))}`);
  console.log("Compared with");
  console.log(
    "  Flagger, documented bound interval × threshold (interval 1m by default): ≥ 60 s with threshold 1, ≥ 300 s with the docs' threshold 5",
  );
  console.log(
    `    — and Flagger analyses while a canary is in progress; a promoted release is not watched (at ${RATE} req/s × 60 s × 5 % = ${Math.round(RATE * 60 * 0.05)} error answers at threshold 1)`,
  );
}

await main();
