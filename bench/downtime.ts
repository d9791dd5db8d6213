/**
 * Downtime during a deploy and a rollback, under steady keep-alive load, for the same app run
 * four ways in one script:
 *
 *   slipway          the real CLI + daemon + proxy, `deploy` (blue-green) then `rollback`
 *   pm2 fork         `pm2 reload --update-env` (fork mode: a restart)
 *   pm2 cluster ×2   `pm2 reload --update-env` (cluster mode: rolling worker reload)
 *   stop/start       SIGTERM the process, wait for it to exit, start the new version
 *   nginx → stop/start  the same behind nginx: the yardstick for one proxy hop (not an anchor)
 *
 * Each run: RATE req/s (default 600) from CONCURRENCY keep-alive loops (default 16) for
 * DURATION s (default 30); the deploy starts at 5 s, the rollback 7 s after the deploy ended.
 * Reported: failed requests (goal 0) and p99 during each switch (command start → end + 1 s).
 * `--rounds N` (default 3) runs every tool N times, the order reversed every other round (one
 * 30 s run's p99 swings ±50 % here with the machine's state, and the first run of a script is
 * the coldest); the goal — Slipway's whole-run p99 ≤ 1.5× the best anchor's — is judged per
 * round and reported as the median. The load generator is warmed up before the first run, and
 * each tool gets `--warm S` (default 3) seconds of the same load after its start and before its
 * measured run (a deploy happens on a system that is serving already; `--warm 0`: none).
 *
 *   npm run build && npx tsx bench/downtime.ts [--duration 30] [--rate 600] [--concurrency 16] [--rounds 3] [--warm 3] [--only slipway,pm2-fork,pm2-cluster,stop-start,nginx]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startLoad, summarize, type LoadReport, type Sample } from "../test/e2e/load.js";
import { freePort } from "../test/support/ports.js";
import { startNginx } from "./nginx.js";

interface Config {
  duration: number;
  /** Load before the measured run (not measured), ms. */
  warmMs: number;
  rate: number;
  concurrency: number;
}

export const ROOT = resolve(import.meta.dirname, "..");
export const BIN = join(ROOT, "bin", "slipway.js");
export const PM2 = join(ROOT, "node_modules", "pm2", "bin", "pm2");

/** A typical app: answers its version, /health, and shuts down gracefully on SIGINT/SIGTERM. */
export const APP = `
const { createServer } = require("node:http");
const version = process.env.APP_VERSION || process.env.SLIPWAY_VERSION;
const srv = createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  res.end(version);
});
srv.listen(Number(process.env.PORT), "127.0.0.1");
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, () => {
    srv.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  });
`;

interface Switch {
  name: string;
  start: number;
  end: number;
  ok: boolean;
}

interface RunResult {
  name: string;
  total: LoadReport;
  /** Outside the switches (each command's start → end + 1 s): the data path's own tail. */
  steady: LoadReport;
  switches: { name: string; cmdMs: number; ok: boolean; r: LoadReport; firstNewMs?: number }[];
  /** p99 per WINDOW_MS from the load's start: where in the run the tail sits. */
  windows: number[];
  errors: Record<string, number>;
}

interface Subject {
  name: string;
  /** Starts v1 on `port`; resolves when it answers. */
  setup(dir: string, port: number): Promise<void>;
  deploy(version: string): Promise<boolean>;
  rollback(): Promise<boolean>;
  teardown(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function exec(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("close", (code) => res({ code: code ?? -1, out }));
  });
}

export async function answers(port: number, expect?: string): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    const body = await r.text();
    return r.ok && (expect === undefined || body === expect);
  } catch {
    return false;
  }
}

export async function until(fn: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

export function writeApp(dir: string): string {
  const app = join(dir, "app");
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, "app.cjs"), APP);
  return app;
}

// ---- slipway ---------------------------------------------------------------------------------

function slipway(): Subject {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  const cli = async (args: string[]) => {
    const r = await exec(process.execPath, [BIN, "-f", join(dir, "slipway.yaml"), ...args], env);
    if (r.code !== 0) console.error(`slipway ${args.join(" ")} exited ${r.code}:\n${r.out}`);
    return r.code === 0;
  };
  return {
    name: "slipway (blue-green, proxy)",
    async setup(d, port) {
      dir = d;
      writeApp(dir);
      writeFileSync(
        join(dir, "slipway.yaml"),
        `project: downtime
environments:
  development:
    target: process
services:
  web:
    run: node app.cjs
    path: ./app
    port: ${port}
    env: { RELEASE: "\${VERSION}" } # each label is a new release (an unchanged service is kept)
    health: { http: /health, interval: 200ms, timeout: 1s }
`,
      );
      env = { ...process.env, SLIPWAY_HOME: join(dir, "home"), NO_COLOR: "1" };
      delete env.SLIPWAY_DATABASE_URL;
      if (!(await cli(["deploy", "development", "--version", "v1"])))
        throw new Error("slipway: first deploy failed");
    },
    deploy: (v) => cli(["deploy", "development", "--version", v]),
    rollback: () => cli(["rollback", "development"]),
    async teardown() {
      await cli(["destroy", "development", "--yes"]);
      for (const f of ["daemon.json", join("proxy", "proxy.pid")]) {
        try {
          const raw = readFileSync(join(dir, "home", f), "utf8");
          const pid = f.endsWith(".json") ? (JSON.parse(raw) as { pid: number }).pid : Number(raw.trim());
          process.kill(pid, "SIGTERM");
        } catch {
          /* not running */
        }
      }
    },
  };
}

// ---- pm2 -------------------------------------------------------------------------------------

function pm2(mode: "fork" | "cluster"): Subject {
  let env: NodeJS.ProcessEnv = {};
  let app = "";
  const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = await exec(process.execPath, [PM2, ...args], { ...env, ...extra });
    if (r.code !== 0) console.error(`pm2 ${args.join(" ")} exited ${r.code}:\n${r.out}`);
    return r.code === 0;
  };
  let port = 0;
  const reload = async (v: string) =>
    (await run(["reload", "zd", "--update-env"], { APP_VERSION: v })) &&
    // pm2 returns once the reload is triggered; the switch is over when v answers.
    (await until(() => answers(port, v), `pm2 ${v}`).then(
      () => true,
      () => false,
    ));
  return {
    name: mode === "fork" ? "pm2 reload, fork mode" : "pm2 reload, cluster ×2",
    async setup(dir, p) {
      port = p;
      app = writeApp(dir);
      env = { ...process.env, PM2_HOME: join(dir, "pm2"), PORT: String(p), APP_VERSION: "v1" };
      const args = ["start", join(app, "app.cjs"), "--name", "zd"];
      if (mode === "cluster") args.push("-i", "2");
      if (!(await run(args))) throw new Error("pm2 start failed");
      await until(() => answers(p, "v1"), "pm2 v1");
    },
    deploy: (v) => reload(v),
    rollback: () => reload("v1"),
    async teardown() {
      await run(["kill"]);
    },
  };
}

// ---- plain stop/start -------------------------------------------------------------------------

function stopStart(): Subject {
  let app = "";
  let port = 0;
  let child: ReturnType<typeof spawn> | undefined;
  const start = async (v: string) => {
    child = spawn(process.execPath, [join(app, "app.cjs")], {
      env: { ...process.env, PORT: String(port), APP_VERSION: v },
      stdio: "ignore",
    });
    await until(() => answers(port, v), `stop/start ${v}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await gone;
  };
  return {
    name: "plain stop/start",
    async setup(dir, p) {
      app = writeApp(dir);
      port = p;
      await start("v1");
    },
    async deploy(v) {
      await stop();
      await start(v);
      return true;
    },
    async rollback() {
      await stop();
      await start("v1");
      return true;
    },
    teardown: stop,
  };
}

// ---- nginx in front, stop/start behind ------------------------------------------------------------

/**
 * What a user with a reverse proxy and no orchestrator runs: nginx (Debian's, one worker,
 * keep-alive upstream pool, as in bench/proxy-overhead.ts) on the load's port, the app on a
 * port of its own, restarted behind it. Its p99 is the price of one proxy hop on this machine
 * — the yardstick for Slipway's proxied path, which always has that hop.
 */
function nginxStopStart(): Subject {
  const inner = stopStart();
  let nginx: ReturnType<typeof spawn> | undefined;
  return {
    name: "nginx → plain stop/start",
    async setup(dir, port) {
      const appPort = await freePort();
      nginx = startNginx(join(dir, "nginx"), { upstreamPort: appPort, servers: [{ port }] });
      await inner.setup(dir, appPort);
      await until(() => answers(port, "v1"), "nginx → v1");
    },
    deploy: (v) => inner.deploy(v),
    rollback: () => inner.rollback(),
    async teardown() {
      await inner.teardown();
      const n = nginx;
      if (n && n.exitCode === null) {
        const gone = new Promise((r) => n.once("exit", r));
        n.kill("SIGQUIT");
        await gone;
      }
    },
  };
}

// ---- the run ----------------------------------------------------------------------------------

const WINDOW_MS = 2500;

async function measure(subject: Subject, cfg: Config): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-downtime-"));
  const port = await freePort();
  try {
    await subject.setup(dir, port);
    if (cfg.warmMs > 0) {
      // A deploy happens on a system that is already serving: the same load for a few seconds
      // first (every process of every tool past its first, interpreted requests), not measured.
      const warm = startLoad({
        url: `http://127.0.0.1:${port}`,
        concurrency: cfg.concurrency,
        rate: cfg.rate,
      });
      await sleep(cfg.warmMs);
      const w = await warm.stop();
      if (w.failures)
        console.log(`${subject.name}: ${w.failures} failed requests while warming up (not counted)`);
    }
    const load = startLoad({ url: `http://127.0.0.1:${port}`, concurrency: cfg.concurrency, rate: cfg.rate });
    const t0 = Date.now();
    await sleep(5000);
    const switches: Switch[] = [];
    let s = Date.now();
    let ok = await subject.deploy("v2");
    switches.push({ name: "deploy v2", start: s, end: Date.now(), ok });
    await sleep(7000);
    s = Date.now();
    ok = await subject.rollback();
    switches.push({ name: "rollback v1", start: s, end: Date.now(), ok });
    await sleep(Math.max(1000, t0 + cfg.duration - Date.now()));
    const total = await load.stop();
    const inSwitch = (x: Sample) => switches.some((w) => x.t >= w.start && x.t < w.end + 1000);
    return {
      name: subject.name,
      total,
      steady: summarize(load.samples.filter((x: Sample) => !inSwitch(x))),
      errors: total.errors,
      windows: Array.from(
        { length: Math.ceil(cfg.duration / WINDOW_MS) },
        (_, i) => summarize(load.samples, t0 + i * WINDOW_MS, t0 + (i + 1) * WINDOW_MS).latency.p99,
      ),
      switches: switches.map((w) => {
        const target = w.name.endsWith("v2") ? "v2" : "v1";
        const first = load.samples.find((x: Sample) => x.t >= w.start && x.version === target);
        return {
          name: w.name,
          cmdMs: w.end - w.start,
          ok: w.ok,
          r: summarize(load.samples, w.start, w.end + 1000),
          firstNewMs: first ? first.t + first.ms - w.start : undefined,
        };
      }),
    };
  } finally {
    await subject.teardown().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Warms the load generator's own code (it runs in this process) before anything is measured. */
async function warmUp(cfg: Config): Promise<void> {
  const s = stopStart();
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-downtime-"));
  try {
    const port = await freePort();
    await s.setup(dir, port);
    const load = startLoad({ url: `http://127.0.0.1:${port}`, concurrency: cfg.concurrency, rate: cfg.rate });
    await sleep(3000);
    await load.stop();
  } finally {
    await s.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

function printRun(r: RunResult): void {
  const errs = Object.entries(r.errors)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(
    `\n${r.name}: ${r.total.requests} requests, ${r.total.rps} req/s, ${r.total.failures} failed` +
      `${errs ? ` (${errs})` : ""}, p50 ${r.total.latency.p50} ms, p99 ${r.total.latency.p99} ms, statuses ${JSON.stringify(r.total.statuses)}`,
  );
  for (const w of r.switches)
    console.log(
      `  ${w.name}: command ${w.cmdMs} ms${w.ok ? "" : " (FAILED)"}, new version answering after ${w.firstNewMs?.toFixed(0) ?? "–"} ms; ` +
        `during the switch ${w.r.requests} requests, ${w.r.failures} failed, p99 ${w.r.latency.p99} ms, max ${w.r.latency.max} ms`,
    );
  console.log(`  p99 per ${WINDOW_MS / 1000} s window: ${r.windows.join(" ")}`);
}

/** The goal's ratios for one round: Slipway against the best anchor and against nginx's hop. */
interface RoundRatios {
  whole?: number;
  steady?: number;
  hop?: number;
  /** nginx in front's whole-run p99 / the best anchor's: what one proxy hop costs here. */
  hopCost?: number;
  best?: string;
}

function printRound(results: RunResult[]): RoundRatios {
  console.log(
    "\n| tool | requests | req/s | failed (deploy / rollback / total) | p99 ms deploy | p99 ms rollback | p99 ms whole run | p99 ms outside the switches |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const [d, b] = r.switches;
    console.log(
      `| ${r.name} | ${r.total.requests} | ${r.total.rps.toFixed(0)} | ${d.r.failures} / ${b.r.failures} / ${r.total.failures} | ${d.r.latency.p99} | ${b.r.latency.p99} | ${r.total.latency.p99} | ${r.steady.latency.p99} |`,
    );
  }
  const sw = results.find((r) => r.name.startsWith("slipway"));
  if (!sw) return {};
  const hop = results.find((r) => r.name.startsWith("nginx"));
  const anchors = results.filter((r) => r !== sw && r !== hop);
  const out: RoundRatios = {};
  if (hop) out.hop = sw.total.latency.p99 / hop.total.latency.p99;
  if (anchors.length) {
    const best = anchors.reduce((a, b) => (b.total.latency.p99 < a.total.latency.p99 ? b : a));
    out.best = best.name;
    out.whole = sw.total.latency.p99 / best.total.latency.p99;
    out.steady = sw.steady.latency.p99 / Math.min(...anchors.map((r) => r.steady.latency.p99));
    if (hop) out.hopCost = hop.total.latency.p99 / best.total.latency.p99;
  }
  console.log(
    `slipway whole-run p99 / best anchor's (${out.best ?? "–"}): ${out.whole?.toFixed(2) ?? "–"}×; outside the switches ${out.steady?.toFixed(2) ?? "–"}×; ` +
      `/ nginx-in-front's (one proxy hop each): ${out.hop?.toFixed(2) ?? "–"}×; nginx-in-front's / the best anchor's: ${out.hopCost?.toFixed(2) ?? "–"}×`,
  );
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: "string", default: "30" },
      rate: { type: "string", default: "600" },
      concurrency: { type: "string", default: "16" },
      rounds: { type: "string", default: "3" },
      warm: { type: "string", default: "3" },
      only: { type: "string" },
    },
  });
  const cfg: Config = {
    duration: Number(values.duration) * 1000,
    warmMs: Number(values.warm) * 1000,
    rate: Number(values.rate),
    concurrency: Number(values.concurrency),
  };
  const rounds = Math.max(1, Number(values.rounds));
  const ONLY = values.only?.split(",");
  if (!existsSync(join(ROOT, "dist", "cli", "main.js"))) throw new Error("run `npm run build` first");
  const keys = ["slipway", "pm2-fork", "pm2-cluster", "stop-start", "nginx"];
  const makers = [slipway, () => pm2("fork"), () => pm2("cluster"), stopStart, nginxStopStart].filter(
    (_, i) => !ONLY || ONLY.includes(keys[i]),
  );
  console.log(
    `downtime: ${cfg.rate} req/s target, ${cfg.concurrency} keep-alive loops, ${cfg.duration / 1000} s per run, ` +
      `${rounds} round${rounds > 1 ? "s" : ""} (order alternating), ${cfg.warmMs / 1000} s of load before each run; ` +
      `node ${process.version}, ${cpus().length} cores, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
  );
  await warmUp(cfg);
  const ratios: RoundRatios[] = [];
  let slipwayFailed = 0;
  for (let round = 0; round < rounds; round++) {
    // Alternate the order: whatever runs first or last (a colder machine, a busier one) does
    // not always fall on the same tool.
    const subjects = makers.map((m) => m());
    if (round % 2) subjects.reverse();
    if (rounds > 1)
      console.log(`\n## round ${round + 1} of ${rounds}: ${subjects.map((s) => s.name).join(", ")}`);
    const results: RunResult[] = [];
    for (const s of subjects) {
      process.stderr.write(`running ${s.name} ...\n`);
      const r = await measure(s, cfg);
      results.push(r);
      printRun(r);
    }
    if (round % 2) results.reverse(); // the table in the same order every round
    ratios.push(printRound(results));
    slipwayFailed += results.find((r) => r.name.startsWith("slipway"))?.total.failures ?? 0;
  }
  const whole = ratios.flatMap((r) => (r.whole === undefined ? [] : [r.whole]));
  if (!ratios.some((r) => r.hop !== undefined || r.whole !== undefined)) return;
  const list = (xs: (number | undefined)[]) => `(rounds ${xs.map((x) => x?.toFixed(2) ?? "–").join(", ")})`;
  console.log(
    `\nslipway failed requests over every round: ${slipwayFailed} (goal 0) ${slipwayFailed === 0 ? "✔" : "✖"}`,
  );
  if (whole.length) {
    const m = median(whole);
    console.log(
      `slipway whole-run p99 / best anchor's, median of rounds: ${m.toFixed(2)}× (goal ≤ 1.5×) ${m <= 1.5 ? "✔" : "✖"} ${list(ratios.map((r) => r.whole))}` +
        `\n  outside the switches: ${median(ratios.flatMap((r) => (r.steady === undefined ? [] : [r.steady]))).toFixed(2)}× ${list(ratios.map((r) => r.steady))}`,
    );
  }
  const hops = ratios.flatMap((r) => (r.hop === undefined ? [] : [r.hop]));
  if (hops.length)
    console.log(
      `slipway whole-run p99 / nginx-in-front's, median of rounds: ${median(hops).toFixed(2)}× ${list(ratios.map((r) => r.hop))}`,
    );
  const costs = ratios.flatMap((r) => (r.hopCost === undefined ? [] : [r.hopCost]));
  if (costs.length)
    console.log(
      `one proxy hop (nginx in front) / the best anchor's whole-run p99, median of rounds: ${median(costs).toFixed(2)}× ${list(ratios.map((r) => r.hopCost))}`,
    );
}

// bench/rollback-latency.ts imports the helpers above; run only when executed directly.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
