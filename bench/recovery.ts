/**
 * Recovery after a crash of the control plane mid-deploy, under steady keep-alive load through
 * the proxy. For every journal step of a blue-green deploy (process target, one service), the
 * daemon is killed with SIGKILL at that step (test hook SLIPWAY_TEST_CRASH_AT, docs/daemon.md),
 * then restarted by the next command. Reported per step: the time from the restart to a
 * consistent environment (a revision deployed, one instance, it answers), where recovery left
 * it (old or new revision), and the requests that failed from the deploy's start until then
 * (goal 0: the proxy keeps serving while the control plane is down).
 *
 * The comparison is what a pm2 user meets when pm2's daemon is killed during `pm2 reload`:
 * `pm2 resurrect`, timed to the app answering again, failed requests counted the same way.
 *
 *   npm run build && npx tsx bench/recovery.ts [--rate 300] [--concurrency 8]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startLoad, summarize } from "../test/e2e/load.js";
import { freePort } from "../test/support/ports.js";
import { answers, BIN, exec, PM2, sleep, until, writeApp } from "./downtime.js";

const { values: args } = parseArgs({
  options: { rate: { type: "string", default: "300" }, concurrency: { type: "string", default: "8" } },
});
const rate = Number(args.rate);
const concurrency = Number(args.concurrency);

interface Row {
  step: string;
  recoverMs: number;
  landed: string;
  failed: number;
  total: number;
}

function killDaemon(home: string, signal: NodeJS.Signals): void {
  try {
    const { pid } = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number };
    process.kill(pid, signal);
  } catch {
    /* not running */
  }
}

async function slipwayRows(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-recovery-"));
  const port = await freePort();
  writeApp(dir);
  writeFileSync(
    join(dir, "slipway.yaml"),
    `project: recovery
environments:
  development:
    target: process
services:
  web:
    run: node app.cjs
    path: ./app
    port: ${port}
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    rollout: { keepWarm: 0s }
`,
  );
  const home = join(dir, "home");
  const base: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1" };
  delete base.SLIPWAY_DATABASE_URL;
  const cli = (a: string[], env = base) =>
    exec(process.execPath, [BIN, "-f", join(dir, "slipway.yaml"), ...a], env);
  const rows: Row[] = [];
  try {
    if ((await cli(["deploy", "development", "--version", "v1"])).code !== 0)
      throw new Error("first deploy failed");
    const plan = await cli(["deploy", "development", "--version", "v2", "--dry-run", "--json"]);
    const steps = (
      JSON.parse(plan.out.slice(plan.out.indexOf("{"))) as {
        result: { plan: { steps: { seq: number; kind: string; service?: string }[] } };
      }
    ).result.plan.steps;
    const load = startLoad({ url: `http://127.0.0.1:${port}`, rate, concurrency });
    let version = 1;
    for (const step of steps) {
      const revs = JSON.parse((await cli(["history", "development", "--json"])).out) as {
        result: { revision: { number: number } }[];
      };
      const next = Math.max(...revs.result.map((r) => r.revision.number)) + 1;
      // A daemon that carries the hook for this revision and step.
      killDaemon(home, "SIGTERM");
      await sleep(300);
      const hooked = { ...base, SLIPWAY_TEST_CRASH_AT: `${next}:${step.seq}` };
      const t0 = Date.now();
      const cut = await cli(["deploy", "development", "--version", `v${++version}`], hooked);
      if (cut.code === 0) console.error(`step ${step.seq}: the deploy was not cut`);
      const restart = Date.now();
      const st = await cli(["status", "development", "--json"]);
      const s = JSON.parse(st.out) as {
        result: {
          revision?: { number: number; status: string };
          services: { instances: { version: string }[] }[];
        };
      };
      const landed = s.result.services[0]?.instances.map((i) => i.version).join(",") ?? "?";
      await until(() => answers(port, landed), `v${landed} answers`);
      const done = Date.now();
      const r = summarize(load.samples, t0, done);
      rows.push({
        step: `${step.seq} ${step.kind}${step.service ? ` ${step.service}` : ""}`,
        recoverMs: done - restart,
        landed: `${landed} (r${s.result.revision?.number})`,
        failed: r.failures,
        total: r.requests,
      });
    }
    await load.stop();
  } finally {
    await cli(["destroy", "development", "--yes"]);
    killDaemon(home, "SIGTERM");
    try {
      process.kill(Number(readFileSync(join(home, "proxy", "proxy.pid"), "utf8").trim()), "SIGTERM");
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** pm2's daemon killed -9 during `pm2 reload`, then `pm2 resurrect`. */
async function pm2Row(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-pm2-"));
  const port = await freePort();
  const app = writeApp(dir);
  const env = { ...process.env, PM2_HOME: join(dir, "pm2"), PORT: String(port), APP_VERSION: "v1" };
  const pm2 = (a: string[], extra: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, [PM2, ...a], { ...env, ...extra });
  try {
    await pm2(["start", join(app, "app.cjs"), "--name", "zd"]);
    await until(() => answers(port, "v1"), "pm2 v1");
    await pm2(["save"]);
    const load = startLoad({ url: `http://127.0.0.1:${port}`, rate, concurrency });
    await sleep(1000);
    const t0 = Date.now();
    const reloading = pm2(["reload", "zd", "--update-env"], { APP_VERSION: "v2" });
    await sleep(150);
    const god = Number(readFileSync(join(dir, "pm2", "pm2.pid"), "utf8").trim());
    process.kill(god, "SIGKILL");
    await reloading;
    const restart = Date.now();
    await pm2(["resurrect"]);
    let landed = "?";
    await until(
      async () => {
        for (const v of ["v1", "v2"]) if (await answers(port, v)) landed = v;
        return landed !== "?";
      },
      "pm2 answers again",
      60_000,
    );
    const done = Date.now();
    await load.stop();
    const r = summarize(load.samples, t0, done);
    return {
      step: "pm2 reload, daemon killed",
      recoverMs: done - restart,
      landed,
      failed: r.failures,
      total: r.requests,
    };
  } finally {
    await pm2(["kill"]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = await slipwayRows();
let baseline: Row | undefined;
try {
  baseline = await pm2Row();
} catch (e) {
  console.error(`pm2 comparison failed: ${(e as Error).message}`);
}
console.log(
  `recovery after kill -9 of the control plane, ${rate} req/s × ${concurrency} loops through the proxy`,
);
console.log(
  `machine: ${cpus().length} cpus, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
console.log("step cut                    restart→consistent  landed on      failed/total");
for (const r of [...rows, ...(baseline ? [baseline] : [])])
  console.log(
    `${r.step.padEnd(28)}${`${r.recoverMs} ms`.padStart(18)}  ${r.landed.padEnd(14)} ${r.failed}/${r.total}`,
  );
if (baseline) {
  const worst = Math.max(...rows.map((r) => r.recoverMs));
  const failed = rows.reduce((a, r) => a + r.failed, 0);
  console.log(
    `ratio pm2 resurrect / slipway worst step: time ${(baseline.recoverMs / worst).toFixed(2)}×; failed requests: pm2 ${baseline.failed} vs slipway ${failed} over all ${rows.length} cuts`,
  );
}
