/**
 * Metric analysis with a real Prometheus (Debian's `prometheus`) scraping the deployed app's own
 * /metrics: the real CLI, daemon and proxy, real app processes under real HTTP load. Prometheus
 * scrapes the service through its public port (the proxy routes each scrape to the live release,
 * as docs/analysis.md documents for one replica), and the app labels its request counter with
 * its version and revision, so the PromQL error ratio is per release. The app answers 500 on
 * every Nth request (ERROR_RATE=0.05 → every 20th): the ratio is exact, not random.
 */
import { Agent, get } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startPrometheus, type PrometheusServer } from "../support/prometheus.js";
import { apiOnlySpec, makeProject, waitFor, type Project } from "./harness.js";

const APP = `
import { createServer } from "node:http";
const version = process.env.SLIPWAY_VERSION;
const revision = process.env.SLIPWAY_REVISION;
const rate = Number(process.env.ERROR_RATE || 0);
const every = rate > 0 ? Math.round(1 / rate) : 0;
// Both codes exist from the start (at 0), as a well-instrumented app exports them.
const counts = { "200": 0, "500": 0 };
let n = 0;
const srv = createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  if (req.url === "/metrics") {
    res.setHeader("content-type", "text/plain; version=0.0.4");
    return res.end(
      "# HELP app_requests_total Requests answered, by status code.\\n# TYPE app_requests_total counter\\n" +
        Object.entries(counts)
          .map(([code, c]) => 'app_requests_total{code="' + code + '",version="' + version + '",revision="' + revision + '"} ' + c)
          .join("\\n") + "\\n",
    );
  }
  if (every && ++n % every === 0) { counts["500"]++; res.writeHead(500); return res.end("error " + version); }
  counts["200"]++;
  res.end(version);
});
srv.keepAliveTimeout = 30000;
srv.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

// The error ratio of each release over the last 5 s; several series: the worst one decides. The
// previous release's series leave the result a few seconds after it stops being scraped.
const ERROR_RATIO =
  'sum by (version) (rate(app_requests_total{code=~"5.."}[5s])) / sum by (version) (rate(app_requests_total[5s]))';

let project: Project | undefined;
let prom: PrometheusServer | undefined;
const promServer = () => {
  if (!prom) throw new Error("no Prometheus");
  return prom;
};
let stopLoad: (() => void) | undefined;
afterEach(async () => {
  stopLoad?.();
  stopLoad = undefined;
  await prom?.stop();
  prom = undefined;
  await project?.cleanup();
  project = undefined;
});

/** One service `api` behind the proxy, a Prometheus scraping its public port, the metric given. */
async function promProject(metric: (promUrl: string) => string): Promise<Project> {
  const p = (project = await makeProject());
  const server = (prom = await startPrometheus({ targets: [`127.0.0.1:${p.ports.api}`] }));
  // Prometheus applies its scrape targets a few seconds after it is ready: wait for its first
  // scrape attempt (up = 0, nothing listens yet), so the first deploy's bake already has data.
  await waitFor(async () => ((await server.query("up")).result as unknown[]).length > 0, {
    what: "Prometheus' first scrape",
    timeoutMs: 20_000,
  });
  writeFileSync(join(p.dir, "app", "app.js"), APP);
  writeFileSync(
    p.file,
    apiOnlySpec(p.ports.api, {
      env: 'ERROR_RATE: "${ERROR_RATE:-0}"',
      rollout: "drainTimeout: 2s",
      rest: `analysis:
  interval: 1s
  bake: 6s
  metrics:
    - ${metric(server.url)}
  watch: { autoRollbackWindow: 0s }
`,
    }),
  );
  return p;
}

/** Steady keep-alive load on the public port; the bodies (versions) answered, in order. */
function startLoad(port: number, perSecond: number): { bodies: string[]; stop(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const bodies: string[] = [];
  const timer = setInterval(() => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => bodies.push(body));
    });
    req.on("timeout", () => req.destroy());
    // A failed request counts as an empty answer, but not the ones stop() itself cuts off.
    req.on("error", () => stopped || bodies.push(""));
  }, 1000 / perSecond);
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearInterval(timer);
    agent.destroy();
  };
  stopLoad = stop;
  return { bodies, stop };
}

interface Measured {
  metric: string;
  value?: number;
  max?: number;
  verdict: string;
  phase: string;
  count: string;
  at: string;
}
interface Bake {
  phase: string;
  result: {
    outcome: string;
    summary: string;
    decidedBy?: { metric: string; reason: string };
    metrics: { name: string; phase: string; failed: number; failureLimit: number }[];
    measurements: Measured[];
  };
}
const bakeOf = (p: Project, n: number) => {
  const rev = p
    .cli(["history", "development", String(n), "--json"])
    .json<{ result: { revision: { status: string; reason?: string; facts: { analysis?: Bake[] } } }[] }>()
    .result[0].revision;
  return { rev, bake: rev.facts.analysis!.find((e) => e.phase === "bake")! };
};

describe("Prometheus scraping the app's /metrics decides the bake", () => {
  it("a release answering 5 % errors under load is rolled back by a PromQL error ratio", async () => {
    const p = await promProject(
      (url) => `{ name: error-ratio, provider: prometheus, url: "${url}", query: '${ERROR_RATIO}', max: 1% }`,
    );
    const prom = promServer();
    const load = startLoad(p.ports.api, 100);

    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    // Prometheus really scraped the app through the proxy: v1's counter is in it.
    const series = (await prom.query('app_requests_total{version="v1",code="200"}')).result as {
      metric: Record<string, string>;
      value: [number, string];
    }[];
    expect(series[0].metric).toMatchObject({ revision: "1", instance: `127.0.0.1:${p.ports.api}` });
    expect(Number(series[0].value[1])).toBeGreaterThan(50);
    const good = bakeOf(p, 1).bake.result;
    expect(good.outcome).toBe("successful");
    expect(good.measurements.some((m) => m.verdict === "pass" && m.value === 0)).toBe(true);

    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { ERROR_RATE: "0.05" },
    });
    load.stop();
    expect(v2.code, v2.stderr).toBe(1);
    expect(v2.stderr).toMatch(/bake: error-ratio 0\.0\d+ ✖/);
    expect(v2.stderr).toContain("traffic back on the previous instances");
    expect((await p.get("api")).body).toBe("v1");
    // v2 really served (it produced the errors Prometheus saw), and v1 serves again.
    expect(load.bodies).toContain("v2");
    expect(load.bodies).toContain("error v2");
    expect(load.bodies.at(-1)).toBe("v1");

    const { rev, bake } = bakeOf(p, 2);
    expect(rev.status).toBe("failed");
    expect(rev.reason).toMatch(/bake: analysis failed: error-ratio 0\.0\d+ > max 0\.01/);
    expect(bake.result.outcome).toBe("failed");
    expect(bake.result.decidedBy?.metric).toBe("error-ratio");
    const bad = bake.result.measurements.find((m) => m.verdict === "fail")!;
    // Every 20th request fails: 5 % over Prometheus' 5 s rate window (scrapes are 1 s apart).
    expect(bad).toMatchObject({ metric: "error-ratio", max: 0.01, phase: "failed" });
    expect(bad.value).toBeGreaterThan(0.03);
    expect(bad.value).toBeLessThan(0.08);
    // It decided well before the 6 s bake was over.
    expect(bake.result.measurements.length).toBeLessThan(6);
  });
});
