/**
 * The prometheus provider against a real Prometheus (Debian's package) scraping a real test
 * app every second; the app's error counter is changed at run time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnalysisRun, PrometheusProvider } from "../../src/analysis/index.js";
import { metricSchema, type AnalysisMetric } from "../../src/spec/schema-analysis.js";
import { freePort, waitFor } from "../support/ports.js";
import { startPrometheus, type PrometheusServer } from "../support/prometheus.js";
import { startMetricsApp, type MetricsApp } from "./app.js";

const ERROR_RATIO = 'sum(app_requests_total{code="500"}) / sum(app_requests_total)';

let app: MetricsApp;
let prom: PrometheusServer;

beforeAll(async () => {
  app = await startMetricsApp();
  app.requests = { "200": 1000, "500": 0 };
  prom = await startPrometheus({ targets: [`127.0.0.1:${app.port}`] });
  await prom.waitForTargetsUp();
});

afterAll(async () => {
  await prom?.stop();
  await app?.close();
});

function metric(over: Record<string, unknown>): AnalysisMetric {
  return metricSchema.parse({
    name: "error-rate",
    provider: "prometheus",
    url: prom.url,
    query: ERROR_RATIO,
    max: "1%",
    ...over,
  });
}

/** Set the counters and wait until Prometheus has scraped them (no timing assumptions). */
async function setErrors(ok: number, errors: number): Promise<void> {
  app.requests = { "200": ok, "500": errors };
  const want = errors / (ok + errors);
  await waitFor(
    async () => {
      const d = await prom.query(ERROR_RATIO);
      const v = Number((d.result as { value: [number, string] }[])[0]?.value[1]);
      return Math.abs(v - want) < 1e-9;
    },
    { what: `prometheus to see an error ratio of ${want}` },
  );
}

function run(metrics: AnalysisMetric[]) {
  return new AnalysisRun({ metrics, providers: { prometheus: new PrometheusProvider() }, intervalMs: 200 });
}

describe("prometheus provider (real Prometheus)", () => {
  it("an error ratio above max fails the analysis, with the value as evidence", async () => {
    await setErrors(950, 50);
    const r = await run([metric({})]).run({ durationMs: 1000 });
    expect(r.outcome).toBe("failed");
    expect(r.decidedBy?.metric).toBe("error-rate");
    expect(r.measurements[0]).toMatchObject({ verdict: "fail", value: 0.05, max: 0.01 });
    expect(r.measurements).toHaveLength(1);
  });

  it("an error ratio below max passes", async () => {
    await setErrors(1999, 1);
    const r = await run([metric({})]).run({ durationMs: 600 });
    expect(r.outcome).toBe("successful");
    expect(r.measurements.length).toBeGreaterThanOrEqual(2);
    expect(r.measurements.every((m) => m.verdict === "pass" && m.value === 0.0005)).toBe(true);
  });

  it("failureLimit 2: the error counter jumps once, is fixed, then jumps again", async () => {
    await setErrors(1000, 0);
    const r1 = run([metric({ failureLimit: 2 })]);
    await setErrors(950, 50);
    expect((await r1.measureOnce()).outcome).toBe("running");
    await setErrors(9950, 50);
    expect((await r1.measureOnce()).outcome).toBe("running");
    await setErrors(900, 100);
    const s = await r1.measureOnce();
    expect(s.outcome).toBe("failed");
    expect(s.measurements[0].count).toBe("failed 2 of failureLimit 2");
  });

  for (const [policy, outcome] of [
    ["pass", "successful"],
    ["fail", "failed"],
    ["inconclusive", "inconclusive"],
  ] as const) {
    it(`an empty vector with noData: ${policy} → ${outcome}`, async () => {
      const m = metric({ name: "missing", query: 'sum(app_requests_total{code="418"})', noData: policy });
      const r = await run([m]).run({ durationMs: 400 });
      expect(r.outcome).toBe(outcome);
      expect(r.measurements[0]).toMatchObject({ noData: true });
    });
  }

  it("a query Prometheus rejects is an error carrying Prometheus' message", async () => {
    const m = metric({ name: "bad", query: "sum(", consecutiveErrorLimit: 1 });
    const r = await run([m]).run({ durationMs: 400 });
    expect(r.outcome).toBe("error");
    expect(r.measurements[0].error).toMatch(/bad_data/);
  });

  it("a Prometheus that is down yields error, not successful", async () => {
    // Nothing listens on this port: the whole (short) run errors below consecutiveErrorLimit.
    const down = `http://127.0.0.1:${await freePort()}`;
    const short = await run([metric({ url: down })]).run({ durationMs: 400 });
    expect(short.outcome).toBe("error");
    expect(short.measurements[0].error).toContain("GET http://127.0.0.1:");

    // The real server stops in the middle of a watch: errors reach the limit.
    await setErrors(1000, 0);
    const watch = run([metric({ consecutiveErrorLimit: 2 })]);
    expect((await watch.measureOnce()).outcome).toBe("running");
    await prom.stop();
    expect((await watch.measureOnce()).outcome).toBe("running");
    const s = await watch.measureOnce();
    expect(s.outcome).toBe("error");
    expect(s.decidedBy?.reason).toContain("2 errors in a row");
  });
});
