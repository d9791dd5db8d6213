/**
 * Time to detect: a release starts returning 5 % errors at t0 under 200 req/s; how long until
 * the analysis outcome is `failed`? Real pieces: a Node HTTP app exposing its request counter,
 * a real Prometheus (Debian package) scraping it every second, the prometheus provider with
 * `interval: 2s`, `failureLimit: 1`. Printed beside Flagger's documented bound
 * (interval × threshold, 1m interval by default).
 *
 *   npx tsx bench/analysis-detect.ts
 */
import { createServer } from "node:http";
import { Agent, request } from "node:http";
import { AnalysisRun, PrometheusProvider } from "../src/analysis/index.js";
import { metricSchema } from "../src/spec/schema-analysis.js";
import { startPrometheus } from "../test/support/prometheus.js";

const RPS = 200;
const INTERVAL_MS = 2000;
const REPS = 3;

let failing = false;
const counts: Record<string, number> = { "200": 0, "500": 0 };
let served = 0;
const app = createServer((req, res) => {
  if (req.url === "/metrics") {
    res.end(
      Object.entries(counts)
        .map(([code, n]) => `http_requests_total{code="${code}"} ${n}`)
        .join("\n") + "\n",
    );
    return;
  }
  served++;
  const code = failing && served % 20 === 0 ? 500 : 200; // exactly 5 %
  counts[String(code)]++;
  res.writeHead(code).end("ok");
});
await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
const port = (app.address() as { port: number }).port;

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const load = setInterval(() => {
  for (let i = 0; i < RPS / 20; i++)
    request({ host: "127.0.0.1", port, path: "/api", agent }, (res) => res.resume())
      .on("error", () => {})
      .end();
}, 50);

const QUERY = 'sum(rate(http_requests_total{code="500"}[5s])) / sum(rate(http_requests_total[5s]))';
// What a user would set up instead: a Prometheus alerting rule on the same expression.
const rules = [
  "groups:",
  "  - name: slipway-bench",
  "    rules:",
  "      - alert: HighErrorRate",
  `        expr: ${JSON.stringify(`${QUERY} > 0.01`)}`,
  "",
].join("\n");
const prom = await startPrometheus({ targets: [`127.0.0.1:${port}`], rules });
const alertFiring = async () => {
  const r = (await (await fetch(`${prom.url}/api/v1/alerts`)).json()) as {
    data: { alerts: { state: string }[] };
  };
  return r.data.alerts.some((a) => a.state === "firing");
};
const alertResults: number[] = [];
const results: number[] = [];
try {
  await prom.waitForTargetsUp();
  const metric = metricSchema.parse({
    name: "error-rate",
    provider: "prometheus",
    url: prom.url,
    query: QUERY,
    max: "1%",
  });
  for (let rep = 0; rep < REPS; rep++) {
    failing = false;
    // Let the 5 s rate window hold only healthy traffic again.
    await new Promise((r) => setTimeout(r, 7000));
    const run = new AnalysisRun({
      metrics: [metric],
      providers: { prometheus: new PrometheusProvider() },
      intervalMs: INTERVAL_MS,
    });
    let t0 = 0;
    // Start failing at a random phase of the analysis interval.
    setTimeout(
      () => {
        failing = true;
        t0 = performance.now();
      },
      1000 + Math.random() * INTERVAL_MS,
    );
    // The alerting rule, watched in parallel (polled every 50 ms).
    const alert = (async () => {
      while (!t0 || !(await alertFiring())) await new Promise((r) => setTimeout(r, 50));
      return performance.now() - t0;
    })();
    const r = await run.run({ durationMs: 60_000 });
    const took = performance.now() - t0;
    alertResults.push(await alert);
    if (r.outcome !== "failed") throw new Error(`run ${rep + 1}: expected failed, got ${r.summary}`);
    results.push(took);
    console.log(
      `run ${rep + 1}: analysis failed ${(took / 1000).toFixed(2)} s after t0 (${r.summary}); ` +
        `alert firing after ${(alertResults[rep] / 1000).toFixed(2)} s`,
    );
  }
} finally {
  clearInterval(load);
  agent.destroy();
  await prom.stop();
  app.close();
}

const sorted = [...results].sort((a, b) => a - b);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log("");
console.log(
  `Slipway analysis, prometheus provider (scrape 1 s, interval 2 s, failureLimit 1), ${RPS} req/s, 5 % errors`,
);
console.log(
  `  time to detect: median ${s(sorted[Math.floor(sorted.length / 2)])}, max ${s(sorted[sorted.length - 1])} (n=${REPS})`,
);
console.log(`  goal (issue 5): ≤ interval + 2 s = ${s(INTERVAL_MS + 2000)}`);
const alerts = [...alertResults].sort((a, b) => a - b);
console.log("Compared with");
console.log(
  `  a Prometheus alerting rule on the same expression (evaluation 1 s, no for:), measured here: ` +
    `median ${s(alerts[Math.floor(alerts.length / 2)])}, max ${s(alerts[alerts.length - 1])} — then a human or a ` +
    "webhook script still has to roll back",
);
console.log(
  "  Flagger, documented bound interval × threshold, interval 1m by default: ≥ 60 s (threshold 1), 300 s (threshold 5)",
);
console.log(
  "  Argo Rollouts fails when failed measurements exceed failureLimit (default 0): interval + scrape, as here",
);
