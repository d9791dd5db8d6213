/**
 * Rollback latency: from the moment `slipway rollback` is started to the moment 100 % of the
 * requests are answered by the old version, under steady keep-alive load.
 *
 *   warm     inside the keep-warm window: the rollback is a traffic switch (goal ≤ 1 s)
 *   expired  after the window (keepWarm 1s, warm instances reaped): the old release is started
 *            again, health-gated, then switched to (goal ≤ 3 s)
 *
 * Compared in the same run with what a user would do instead: `pm2 reload --update-env` back to
 * the old version (cluster ×2 and fork mode) and a plain stop/start.
 *
 * "100 % old" = when the first request sent after the last answer by another version (or
 * failure) was answered by the old one: from then on every answer is the old version, and the
 * requests still in flight on the new version at the switch are included.
 *
 *   npm run build && npx tsx bench/rollback-latency.ts [--rounds 5] [--rate 400]
 *
 * Before/after on a noisy machine: `--before DIR` (another checkout, built) alternates this build's
 * slipway rounds with that checkout's, pass by pass (odd passes run this build first, even passes
 * the other), and prints the ratio of each pair of medians instead of the pm2 and plain anchors.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../test/support/ports.js";
import { isFailure, percentile, startLoad, type Load } from "../test/e2e/load.js";
import { answers, BIN, exec, PM2, sleep, until, writeApp } from "./downtime.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    rate: { type: "string", default: "400" },
    before: { type: "string" },
    passes: { type: "string", default: "2" },
  },
});
const ROUNDS = Number(values.rounds);
const RATE = Number(values.rate);

interface Round {
  /** ms from the command's start to the first answer by the old version. */
  firstOld: number;
  /** ms from the command's start to the answer of the first request of the all-old tail. */
  allOld: number;
  /** ms until the command exited. */
  command: number;
  failed: number;
}

const now = () => performance.timeOrigin + performance.now();

/** Times of one switch back to `old`, started at t0 (epoch ms), once the load shows only `old`. */
async function observe(load: Load, t0: number, old: string, cmdEnd: number): Promise<Round> {
  // Let 300 ms of answers after the command arrive so the tail is known to be all old.
  await sleep(Math.max(0, cmdEnd + 300 - Date.now()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${old} never answered after the rollback`)), 30_000);
  });
  await Promise.race([load.waitFor((s) => s.version === old && s.t > cmdEnd), timeout]).finally(() =>
    clearTimeout(timer),
  );
  const after = load.samples.filter((s) => s.t + s.ms >= t0).sort((a, b) => a.t - b.t);
  const firstOld = Math.min(...after.filter((s) => s.version === old).map((s) => s.t + s.ms));
  const lastOther = after.filter((s) => s.version !== old).reduce((m, s) => Math.max(m, s.t), t0);
  const tail = after.find((s) => s.t > lastOther && s.version === old);
  return {
    firstOld: firstOld - t0,
    allOld: (tail ? tail.t + tail.ms : NaN) - t0,
    command: cmdEnd - t0,
    failed: after.filter(isFailure).length,
  };
}

async function timed(fn: () => Promise<boolean>): Promise<{ t0: number; end: number; ok: boolean }> {
  const t0 = now();
  const ok = await fn();
  return { t0, end: now(), ok };
}

// ---- slipway ---------------------------------------------------------------------------------

async function slipwayRounds(keepWarm: "5m" | "1s", bin = BIN): Promise<Round[]> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-rollback-"));
  const port = await freePort();
  writeApp(dir);
  const file = join(dir, "slipway.yaml");
  writeFileSync(
    file,
    `project: rollback
environments:
  development:
    target: process
services:
  web:
    run: node app.cjs
    path: ./app
    port: ${port}
    env: { RELEASE: "\${VERSION}" } # each label is a new release (an unchanged service is kept)
    health: { http: /health, interval: 100ms, timeout: 1s }
    rollout: { keepWarm: ${keepWarm} }
`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: join(dir, "home"), NO_COLOR: "1" };
  delete env.SLIPWAY_DATABASE_URL;
  const cli = async (...args: string[]) => {
    let r = await exec(process.execPath, [bin, "-f", file, ...args], env);
    // 8f74fa1 refuses a deploy while the daemon's housekeeping holds the lock (exit 3); builds
    // since wait for it. Between rounds only: a rollback is never retried (it is what is timed).
    for (let n = 0; n < 50 && args[0] === "deploy" && r.code === 3 && r.out.includes("(maintain)"); n++) {
      await sleep(100);
      r = await exec(process.execPath, [bin, "-f", file, ...args], env);
    }
    if (r.code !== 0) throw new Error(`slipway ${args.join(" ")} exited ${r.code}:\n${r.out}`);
    return r.out;
  };
  const rounds: Round[] = [];
  let load: Load | undefined;
  try {
    await cli("deploy", "development", "--version", "v0");
    load = startLoad({ url: `http://127.0.0.1:${port}`, concurrency: 8, rate: RATE });
    await load.waitFor(() => true);
    for (let i = 1; i <= ROUNDS; i++) {
      const old = load.samples.at(-1)?.version as string; // what serves now: the rollback's target
      await cli("deploy", "development", "--version", `v${i}`);
      if (keepWarm === "1s")
        await until(async () => {
          const st = JSON.parse(await cli("status", "development", "--json")) as {
            result: { services: { instances: { slot: string }[] }[] };
          };
          return st.result.services.every((s) => s.instances.every((x) => x.slot !== "warm"));
        }, "warm instances reaped");
      else await sleep(500);
      const c = await timed(() => cli("rollback", "development").then(() => true));
      rounds.push(await observe(load, c.t0, old, c.end));
    }
  } finally {
    await load?.stop();
    await exec(process.execPath, [bin, "-f", file, "destroy", "development", "--yes"], env);
    for (const f of ["daemon.json", join("proxy", "proxy.pid")]) {
      try {
        const raw = readFileSync(join(dir, "home", f), "utf8");
        process.kill(f.endsWith(".json") ? (JSON.parse(raw) as { pid: number }).pid : Number(raw), "SIGTERM");
      } catch {
        /* not running */
      }
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); // a stopping daemon may still write
  }
  return rounds;
}

/** This build against an older checkout's, alternated pass by pass: the ratio of each pair of medians. */
async function beforeAfter(beforeDir: string): Promise<void> {
  const before = join(beforeDir, "bin", "slipway.js");
  const med = (r: Round[]) =>
    percentile(
      r.map((x) => x.allOld).sort((a, b) => a - b),
      50,
    );
  console.log("\n| pass | rollback | after: 100 % old ms (median) | before | after / before |");
  console.log("|---|---|---:|---:|---:|");
  for (let pass = 1; pass <= Number(values.passes); pass++)
    for (const keepWarm of ["5m", "1s"] as const) {
      // Which build goes first alternates: a load that changes within minutes falls on both.
      const afterFirst = pass % 2 === 1;
      process.stderr.write(
        `pass ${pass}, keepWarm ${keepWarm}: ${afterFirst ? "after, then before" : "before, then after"} ...\n`,
      );
      let a = NaN;
      if (afterFirst) a = med(await slipwayRounds(keepWarm));
      const b = med(await slipwayRounds(keepWarm, before));
      if (!afterFirst) a = med(await slipwayRounds(keepWarm));
      const name = keepWarm === "5m" ? "warm" : "keep-warm expired";
      console.log(`| ${pass} | ${name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} |`);
    }
}

// ---- the alternatives --------------------------------------------------------------------------

async function pm2Rounds(mode: "fork" | "cluster"): Promise<Round[]> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-rollback-pm2-"));
  const port = await freePort();
  const app = writeApp(dir);
  const env = { ...process.env, PM2_HOME: join(dir, "pm2"), PORT: String(port), APP_VERSION: "v0" };
  const pm2 = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, [PM2, ...args], { ...env, ...extra });
  const reload = async (v: string) => {
    await pm2(["reload", "rb", "--update-env"], { APP_VERSION: v });
    return true;
  };
  const rounds: Round[] = [];
  let load: Load | undefined;
  try {
    await pm2(["start", join(app, "app.cjs"), "--name", "rb", ...(mode === "cluster" ? ["-i", "2"] : [])]);
    await until(() => answers(port, "v0"), "pm2 v0");
    load = startLoad({ url: `http://127.0.0.1:${port}`, concurrency: 8, rate: RATE });
    for (let i = 1; i <= ROUNDS; i++) {
      await reload(`v${i}`);
      await until(() => answers(port, `v${i}`), `pm2 v${i}`);
      await sleep(500);
      const c = await timed(() => reload("v0"));
      rounds.push(await observe(load, c.t0, "v0", c.end));
    }
  } finally {
    await load?.stop();
    await pm2(["kill"]);
    rmSync(dir, { recursive: true, force: true });
  }
  return rounds;
}

async function stopStartRounds(): Promise<Round[]> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-rollback-plain-"));
  const port = await freePort();
  const app = writeApp(dir);
  let child: ReturnType<typeof spawn> | undefined;
  const start = async (v: string) => {
    child = spawn(process.execPath, [join(app, "app.cjs")], {
      env: { ...process.env, PORT: String(port), APP_VERSION: v },
      stdio: "ignore",
    });
    await until(() => answers(port, v), `plain ${v}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await gone;
  };
  const rounds: Round[] = [];
  let load: Load | undefined;
  try {
    await start("v0");
    load = startLoad({ url: `http://127.0.0.1:${port}`, concurrency: 8, rate: RATE });
    for (let i = 1; i <= ROUNDS; i++) {
      await stop();
      await start(`v${i}`);
      await sleep(500);
      const c = await timed(async () => (await stop(), await start("v0"), true));
      rounds.push(await observe(load, c.t0, "v0", c.end));
    }
  } finally {
    await load?.stop();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rounds;
}

/** Median start-to-exit time of `slipway --version`: the CLI's fixed cost inside every figure. */
async function cliStartup(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = now();
    await exec(process.execPath, [BIN, "--version"]);
    times.push(now() - t);
  }
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
}

function line(name: string, rounds: Round[], goal?: number): string {
  const med = (k: keyof Round) =>
    percentile(
      rounds.map((r) => r[k]).sort((a, b) => a - b),
      50,
    );
  const max = (k: keyof Round) => Math.max(...rounds.map((r) => r[k]));
  const f = (x: number) => x.toFixed(0);
  const verdict = goal === undefined ? "" : max("allOld") <= goal ? " ✔" : " ✖";
  return (
    `| ${name} | ${f(med("firstOld"))} | ${f(med("allOld"))} | ${f(max("allOld"))}${verdict} | ${f(med("command"))} | ` +
    `${rounds.reduce((n, r) => n + r.failed, 0)} |`
  );
}

async function main(): Promise<void> {
  console.log(
    `rollback latency: ${ROUNDS} rounds each, ${RATE} req/s from 8 keep-alive loops; node ${process.version}, ` +
      `${cpus().length} cores, load average ${loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
  );
  if (values.before) return beforeAfter(values.before);
  const startup = await cliStartup();
  const results: [string, Round[], number?][] = [];
  const run = async (name: string, fn: () => Promise<Round[]>, goal?: number) => {
    process.stderr.write(`running ${name} ...\n`);
    const r = await fn();
    for (const [i, x] of r.entries())
      process.stderr.write(
        `  round ${i + 1}: first old ${x.firstOld.toFixed(0)} ms, 100 % old ${x.allOld.toFixed(0)} ms, command ${x.command.toFixed(0)} ms, failed ${x.failed}\n`,
      );
    results.push([name, r, goal]);
  };
  await run("slipway rollback, warm (keepWarm 5m)", () => slipwayRounds("5m"), 1000);
  await run("slipway rollback, keep-warm expired", () => slipwayRounds("1s"), 3000);
  await run("pm2 reload to old version, cluster ×2", () => pm2Rounds("cluster"));
  await run("pm2 reload to old version, fork mode", () => pm2Rounds("fork"));
  await run("plain stop/start of the old version", () => stopStartRounds());
  console.log(
    "\n| rollback | first old answer ms (median) | 100 % old ms (median) | 100 % old ms (max) | command ms (median) | failed requests |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, r, goal] of results) console.log(line(name, r, goal));
  console.log(
    `\nincluded in every slipway figure: CLI process start (node + NODE_EXTRA_CA_CERTS), median ${startup.toFixed(0)} ms for \`slipway --version\``,
  );
  console.log("goals: warm ≤ 1000 ms, expired ≤ 3000 ms (100 % old, max over the rounds)");
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
