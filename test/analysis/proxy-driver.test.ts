/**
 * The proxy and driver providers. Their stats sources are in-test functions: they stand in for
 * the Slipway proxy process and the drivers' stats(), which have their own tests; what is
 * tested here is how the providers turn cumulative counters and instance stats into values.
 */
import { describe, expect, it } from "vitest";
import { AnalysisRun, DriverStatsProvider, ProxyStatsProvider } from "../../src/analysis/index.js";
import type { ProviderContext } from "../../src/analysis/provider.js";
import type { InstanceStats } from "../../src/drivers/driver.js";
import type { TargetStats } from "../../src/proxy/contract.js";
import { metricSchema, type AnalysisMetric } from "../../src/spec/schema-analysis.js";

function target(
  id: string,
  slot: "stable" | "candidate",
  ok: number,
  errors: number,
  p95 = 100,
): TargetStats {
  return {
    id,
    route: "shop/prod/api",
    slot,
    requests: ok + errors,
    statuses: { "2xx": ok, "5xx": errors },
    inFlight: 0,
    latency: { p50: p95 / 2, p95, p99: p95 * 2 },
    ejected: false,
  };
}

let clock = 1_000_000;
const ctx = (): ProviderContext => ({ signal: new AbortController().signal, now: () => clock });
const m = (over: Record<string, unknown>): AnalysisMetric =>
  metricSchema.parse({ name: "m", provider: "proxy", query: "errorRate", max: "1%", ...over });

describe("proxy provider", () => {
  it("computes the error rate of the candidate targets over the window since the previous measurement", async () => {
    let stats: TargetStats[] = [target("old-1", "stable", 1000, 500), target("new-1", "candidate", 100, 0)];
    const p = new ProxyStatsProvider({ stats: async () => stats, filter: (t) => t.slot === "candidate" });
    expect(await p.measure(m({}), ctx())).toMatchObject({ value: 0, samples: 100 });
    // 200 more requests, 10 of them errors (5xx + connection errors): 5 % in this window.
    stats = [target("old-1", "stable", 2000, 900), target("new-1", "candidate", 290, 5)];
    stats[1].statuses.error = 5;
    stats[1].requests += 5;
    expect(await p.measure(m({}), ctx())).toMatchObject({ value: 0.05, samples: 200 });
    // Nothing new: no data, zero samples.
    expect(await p.measure(m({}), ctx())).toMatchObject({ noData: true, samples: 0 });
  });

  it("keeps one window per metric, so two metrics on the same targets do not steal each other's requests", async () => {
    let stats = [target("new-1", "candidate", 100, 0, 300)];
    const p = new ProxyStatsProvider({ stats: async () => stats, filter: () => true });
    await p.measure(m({ name: "err" }), ctx());
    await p.measure(m({ name: "p95", query: "latencyP95", max: "2s" }), ctx());
    stats = [target("new-1", "candidate", 150, 50, 2500)];
    expect(await p.measure(m({ name: "err" }), ctx())).toMatchObject({ value: 0.5, samples: 100 });
    expect(await p.measure(m({ name: "p95", query: "latencyP95", max: "2s" }), ctx())).toMatchObject({
      value: 2.5,
      samples: 100,
    });
  });

  it("request rate, the worst target's latency, counter resets and no targets", async () => {
    let stats = [target("a", "candidate", 100, 0, 200), target("b", "candidate", 100, 0, 900)];
    const p = new ProxyStatsProvider({ stats: async () => stats, filter: (t) => t.slot === "candidate" });
    const rate = m({ name: "rate", query: "requestRate", min: 1, max: undefined });
    const p99 = m({ name: "p99", query: "latencyP99", max: "1s" });
    expect(await p.measure(rate, ctx())).toMatchObject({ noData: true });
    expect((await p.measure(p99, ctx())).value).toBe(1.8);
    clock += 5000;
    stats = [target("a", "candidate", 600, 0), target("b", "candidate", 20, 0)]; // b was re-added: counter reset
    expect((await p.measure(rate, ctx())).value).toBe((500 + 20) / 5);
    stats = [target("old", "stable", 5, 0)];
    expect(await p.measure(m({}), ctx())).toMatchObject({ noData: true, samples: 0 });
  });

  it("a 5 % error release fails an analysis with failureLimit 2 and minSamples 50 at the second bad window", async () => {
    let ok = 0;
    let errors = 0;
    const windows = [
      [30, 10], // 40 requests: below minSamples, not counted
      [95, 5], // 5 %: fail 1 of 2
      [100, 0], // fine
      [190, 10], // 5 %: fail 2 of 2 → failed
      [100, 0],
    ];
    let i = 0;
    const p = new ProxyStatsProvider({
      stats: async () => {
        const [o, e] = windows[Math.min(i++, windows.length - 1)];
        ok += o;
        errors += e;
        return [target("new-1", "candidate", ok, errors)];
      },
      filter: () => true,
    });
    const metric = m({ name: "error-rate", failureLimit: 2, minSamples: 50 });
    const clockObj = { now: () => clock, sleep: async (ms: number) => void (clock += ms) };
    const r = await new AnalysisRun({
      metrics: [metric],
      providers: { proxy: p },
      intervalMs: 5000,
      clock: clockObj,
    }).run({
      durationMs: 60_000,
    });
    expect(r.outcome).toBe("failed");
    expect(r.measurements.map((x) => x.verdict)).toEqual(["inconclusive", "fail", "pass", "fail"]);
    expect(r.summary).toBe("failed: error-rate 5 % > max 1 % (failed 2 of failureLimit 2)");
  });

  it("a stats source that throws is an error measurement", async () => {
    const p = new ProxyStatsProvider({
      stats: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:9");
      },
      filter: () => true,
    });
    expect((await p.measure(m({}), ctx())).error).toBe("proxy stats: connect ECONNREFUSED 127.0.0.1:9");
  });
});

describe("driver provider", () => {
  const inst = (cpu: number, memory: number, memoryLimit?: number): InstanceStats => ({
    cpu,
    memory,
    memoryLimit,
  });

  it("the worst instance decides CPU and memory (ratio of its limit, or of the host)", async () => {
    const asked: string[] = [];
    const p = new DriverStatsProvider({
      stats: async (metric) => {
        asked.push(metric.service ?? "*");
        return [inst(0.2, 100, 1000), inst(0.95, 300, 1000), inst(0.5, 500)];
      },
      memoryTotal: 10_000,
    });
    const cpu = await p.measure(m({ provider: "driver", query: "cpu", max: "90%", service: "api" }), ctx());
    expect(cpu).toMatchObject({ value: 0.95, samples: 3 });
    expect(asked).toEqual(["api"]);
    expect((await p.measure(m({ provider: "driver", query: "memory", max: "90%" }), ctx())).value).toBe(0.3);
    expect((await p.measure(m({ provider: "driver", query: "memoryBytes", max: "1Gi" }), ctx())).value).toBe(
      500,
    );
  });

  it("restarts: the instance that restarted most decides; a source without restarts is an error", async () => {
    const p = new DriverStatsProvider({
      stats: async () => [
        { cpu: 0, memory: 0, restarts: 0 },
        { cpu: 0, memory: 0, restarts: 3 },
      ],
    });
    expect(await p.measure(m({ provider: "driver", query: "restarts", max: "2" }), ctx())).toMatchObject({
      value: 3,
      samples: 2,
    });
    const without = new DriverStatsProvider({ stats: async () => [inst(0.1, 1)] });
    expect(
      (await without.measure(m({ provider: "driver", query: "restarts", max: "2" }), ctx())).error,
    ).toMatch(/does not know the query "restarts"/);
  });

  it("no instances is no data; a failing source is an error", async () => {
    const none = new DriverStatsProvider({ stats: async () => [] });
    expect(await none.measure(m({ provider: "driver", query: "cpu", max: "90%" }), ctx())).toMatchObject({
      noData: true,
    });
    const broken = new DriverStatsProvider({
      stats: async () => {
        throw new Error("docker: engine unreachable");
      },
    });
    expect((await broken.measure(m({ provider: "driver", query: "cpu", max: "90%" }), ctx())).error).toBe(
      "driver stats: docker: engine unreachable",
    );
  });
});
