/**
 * Standing rules: what 200 rules on a 5 s interval cost (issue 13, item 1; goal < 2 % of one
 * core), beside Prometheus evaluating the same 200 rules from its own rule file against the same
 * series, on the same machine.
 *
 * An exporter (a child process) serves 200 gauges app_value{i="0".."199"} (every 10th above the
 * threshold, so 20 rules fire in both). A real Prometheus scrapes it every 5 s. Phases, each
 * BENCH_SECONDS (default 60) long, CPU read from /proc (user + system):
 *
 *   A  Prometheus without rules, Slipway's runtime without rules: both baselines.
 *   B  Prometheus with a rule file of 200 alerting rules (evaluation_interval 5s):
 *      Prometheus' rule cost = B − A.
 *   C  Slipway's RuleWatcher (the daemon's class, via createRuntime) with 200 `prometheus`
 *      rules on a 5 s interval: Slipway's cost = its process C − A; Prometheus answering the
 *      instant queries = its C − A.
 *   D  The same 200 rules as `scrape` rules (Slipway reads the exporter itself, no Prometheus).
 *
 * Run: npx tsx bench/rules.ts
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRuntime } from "../src/factory.js";
import { parseSpecText } from "../src/spec/load.js";
import { resolveSpec } from "../src/spec/resolve.js";
import { freePort, waitFor } from "../test/support/ports.js";
import { startPrometheus, type PrometheusServer } from "../test/support/prometheus.js";

const RULES = 200;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const TICK = 100; // clock ticks per second (Linux USER_HZ)
const value = (i: number) => (i % 10 === 0 ? 50 : 5);

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
}

function pidOf(prom: PrometheusServer): number {
  for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes(join(prom.dir, "prometheus.yml")))
        return Number(d);
    } catch {
      /* gone */
    }
  }
  throw new Error("prometheus pid not found");
}

async function exporter(): Promise<{ target: string; stop(): void }> {
  const port = await freePort();
  const body = `# TYPE app_value gauge\n${Array.from({ length: RULES }, (_, i) => `app_value{i="${i}"} ${value(i)}\n`).join("")}`;
  const code = `require("node:http").createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, "127.0.0.1")`;
  const child = spawn(process.execPath, ["-e", code], { stdio: "ignore" });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok, {
    what: "exporter",
  });
  return { target: `127.0.0.1:${port}`, stop: () => child.kill() };
}

/** CPU seconds of Slipway (this process) and Prometheus over one phase. */
async function measure(promPid: number): Promise<{ slipway: number; prometheus: number }> {
  const s0 = process.cpuUsage();
  const p0 = cpuSecondsOf(promPid);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const s = process.cpuUsage(s0);
  return { slipway: (s.user + s.system) / 1e6, prometheus: cpuSecondsOf(promPid) - p0 };
}

const promRuleFile = () =>
  "groups:\n  - name: bench\n    interval: 5s\n    rules:\n" +
  Array.from(
    { length: RULES },
    (_, i) =>
      `      - alert: r${i}\n        expr: app_value{i="${i}"} > 30\n        labels: { severity: warning }\n`,
  ).join("");

function slipwaySpec(dir: string, kind: "prometheus" | "scrape", url: string) {
  const rules = Array.from({ length: RULES }, (_, i) =>
    kind === "prometheus"
      ? `  - { name: r${i}, provider: prometheus, url: "${url}", query: 'app_value{i="${i}"}', max: 30, interval: 5s }`
      : `  - { name: r${i}, provider: scrape, url: "${url}/metrics", query: 'app_value{i="${i}"}', max: 30, interval: 5s }`,
  ).join("\n");
  const text = `project: bench\nenvironments: { prod: { target: process } }\nservices: { app: { run: sleep 1000, path: . } }\nrules:\n${rules}\n`;
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, text);
  return resolveSpec(parseSpecText(text, file), { env: "prod", version: "v1" }).spec;
}

const pct = (cpu: number) => `${((cpu / SECONDS) * 100).toFixed(2)} %`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-rules-"));
  const exp = await exporter();
  const engine = await createRuntime({ home: join(dir, "home") });
  try {
    process.stderr.write(`phase A: baselines (${SECONDS}s)…\n`);
    let prom = await startPrometheus({ targets: [exp.target], scrapeIntervalMs: 5000 });
    await prom.waitForTargetsUp();
    const a = await measure(pidOf(prom));
    await prom.stop();

    process.stderr.write(`phase B: Prometheus with ${RULES} rules…\n`);
    prom = await startPrometheus({ targets: [exp.target], scrapeIntervalMs: 5000, rules: promRuleFile() });
    await prom.waitForTargetsUp();
    const b = await measure(pidOf(prom));
    const firingProm = (
      (await prom.query('count(ALERTS{alertstate="firing"})')).result as { value: [number, string] }[]
    )[0]?.value[1];
    await prom.stop();

    process.stderr.write(`phase C: Slipway with ${RULES} prometheus rules…\n`);
    prom = await startPrometheus({ targets: [exp.target], scrapeIntervalMs: 5000 });
    await prom.waitForTargetsUp();
    engine.rules.sync([slipwaySpec(dir, "prometheus", prom.url)]);
    const c = await measure(pidOf(prom));
    const states = (await engine.rules.states("bench", "prod")).rules;
    const firingSlipway = states.filter((s) => s.state === "firing").length;
    const evaluations = states.reduce((n, s) => n + s.evaluations, 0);
    engine.rules.sync([]);

    process.stderr.write(`phase D: Slipway with ${RULES} scrape rules…\n`);
    engine.rules.sync([slipwaySpec(dir, "scrape", `http://${exp.target}`)]);
    const d = await measure(pidOf(prom));
    engine.rules.sync([]);
    await prom.stop();

    const slipC = Math.max(0, c.slipway - a.slipway);
    const slipD = Math.max(0, d.slipway - a.slipway);
    const promRules = Math.max(1e-9, b.prometheus - a.prometheus);
    const promQueries = Math.max(0, c.prometheus - a.prometheus);
    const rows = [
      [
        "Prometheus: 200 rules from its rule file",
        pct(promRules),
        `${(b.prometheus - a.prometheus).toFixed(2)} s`,
      ],
      ["Slipway: 200 prometheus rules (its process)", pct(slipC), `${slipC.toFixed(2)} s`],
      ["  + Prometheus answering Slipway's queries", pct(promQueries), `${promQueries.toFixed(2)} s`],
      ["Slipway: 200 scrape rules (no Prometheus)", pct(slipD), `${slipD.toFixed(2)} s`],
    ];
    console.log(
      `\n200 rules, 5 s interval, ${SECONDS} s per phase; CPU above each process's baseline (% of one core)\n`,
    );
    console.log("| | CPU | CPU seconds |\n| --- | --- | --- |");
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    console.log(
      `\nbaselines (phase A): Slipway runtime ${pct(a.slipway)}, Prometheus scraping ${pct(a.prometheus)}` +
        `\nfiring: Prometheus ${firingProm ?? 0}, Slipway ${firingSlipway} (of ${RULES}); Slipway evaluations in C: ${evaluations}` +
        `\nratio Slipway/Prometheus (rule evaluation): ${(slipC / promRules).toFixed(2)}×; ` +
        `with Prometheus' query serving: ${((slipC + promQueries) / promRules).toFixed(2)}×` +
        `\ngoal < 2 % of one core: ${slipC / SECONDS < 0.02 ? "met" : "MISSED"} (prometheus rules), ${slipD / SECONDS < 0.02 ? "met" : "MISSED"} (scrape rules)`,
    );
  } finally {
    await engine.close();
    exp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
