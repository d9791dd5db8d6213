/**
 * Unit tests of the measurement → metric → run state machine. The provider here is a script
 * of measurements (the state machine's input) and the clock is virtual, so the tests do not
 * sleep; the real providers have their own integration tests under test/analysis/.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { SpecError } from "../errors.js";
import { metricSchema, type AnalysisMetric } from "../spec/schema-analysis.js";
import { AnalysisRun, judge, worstOutcome, type Clock, type Outcome } from "./evaluate.js";
import type { Measurement, MetricProvider } from "./provider.js";

type Step = number | "error" | "nodata" | { value: number; samples: number } | "hang";

function metric(over: Partial<z.input<typeof metricSchema>> = {}): AnalysisMetric {
  return metricSchema.parse({ name: "m", provider: "json", query: "v", url: "http://x", max: 10, ...over });
}

function virtualClock(): Clock & { t: number } {
  const c = {
    t: 1_000_000,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

/** Returns the scripted measurements of each metric in order; the last one repeats. */
function scripted(script: Record<string, Step[]>): MetricProvider & { calls: Record<string, number[]> } {
  const calls: Record<string, number[]> = {};
  return {
    kind: "json",
    calls,
    async measure(m, ctx): Promise<Measurement> {
      const list = script[m.name];
      calls[m.name] ??= [];
      const i = calls[m.name].length;
      calls[m.name].push(ctx.now());
      const step = list[Math.min(i, list.length - 1)];
      const at = ctx.now();
      if (step === "hang") return new Promise(() => {});
      if (step === "error") return { error: "connection refused", at };
      if (step === "nodata") return { noData: true, at };
      if (typeof step === "number") return { value: step, at };
      return { ...step, at };
    },
  };
}

function runWith(metrics: AnalysisMetric[], script: Record<string, Step[]>, intervalMs = 1000) {
  const provider = scripted(script);
  const clock = virtualClock();
  const run = new AnalysisRun({ metrics, providers: { json: provider }, intervalMs, clock });
  return { run, provider, clock };
}

describe("failureLimit: a metric fails at exactly the Nth failed measurement", () => {
  it("failureLimit 1 (default): the first bad value fails and the run stops there", async () => {
    const { run, provider } = runWith([metric()], { m: [50] });
    const r = await run.run({ durationMs: 10_000 });
    expect(r.outcome).toBe("failed");
    expect(provider.calls.m).toHaveLength(1);
    expect(r.decidedBy).toMatchObject({ metric: "m", phase: "failed" });
    expect(r.decidedBy?.reason).toContain("failed 1 of failureLimit 1");
  });

  it("failureLimit 2: one bad value does not fail", async () => {
    const { run } = runWith([metric({ failureLimit: 2 })], { m: [5, 50, 5, 5, 5] });
    const r = await run.run({ durationMs: 5000 });
    expect(r.outcome).toBe("successful");
    expect(r.measurements.map((x) => x.verdict)).toEqual(["pass", "fail", "pass", "pass", "pass"]);
    expect(r.metrics[0]).toMatchObject({ failed: 1, passed: 4, phase: "successful" });
  });

  it("failureLimit 2: the second bad value fails, even when not consecutive", async () => {
    const { run, provider } = runWith([metric({ failureLimit: 2 })], { m: [50, 5, 50, 5] });
    const r = await run.run({ durationMs: 10_000 });
    expect(r.outcome).toBe("failed");
    expect(provider.calls.m).toHaveLength(3);
    expect(r.measurements.map((x) => x.phase)).toEqual(["running", "running", "failed"]);
    expect(r.measurements[2].count).toBe("failed 2 of failureLimit 2");
  });

  it("min thresholds fail below, max thresholds above; equal passes", async () => {
    const m = metric({ max: undefined, min: 3 });
    expect(judge(m, { value: 2, at: 0 }).verdict).toBe("fail");
    expect(judge(m, { value: 3, at: 0 }).verdict).toBe("pass");
    expect(judge(metric(), { value: 10, at: 0 }).verdict).toBe("pass");
    expect(judge(metric(), { value: 10.01, at: 0 }).verdict).toBe("fail");
  });
});

describe("consecutiveErrorLimit", () => {
  it("the metric errors at the 4th error in a row (default) and the run stops", async () => {
    const { run, provider } = runWith([metric()], { m: ["error"] });
    const r = await run.run({ durationMs: 60_000 });
    expect(r.outcome).toBe("error");
    expect(provider.calls.m).toHaveLength(4);
    expect(r.measurements.map((x) => x.phase)).toEqual(["running", "running", "running", "error"]);
    expect(r.summary).toContain("connection refused");
  });

  it("an answer in between resets the count", async () => {
    const steps: Step[] = ["error", "error", "error", 5, "error", "error", "error", 5];
    const { run } = runWith([metric()], { m: steps });
    const r = await run.run({ durationMs: 8000 });
    expect(r.outcome).toBe("successful");
    expect(r.metrics[0]).toMatchObject({ errors: 6, passed: 2 });
  });

  it("a run too short to reach the limit, with no measurement taken, ends in error (never successful)", async () => {
    const { run } = runWith([metric()], { m: ["error"] });
    const r = await run.run({ durationMs: 2000 });
    expect(r.measurements).toHaveLength(2);
    expect(r.outcome).toBe("error");
    expect(r.metrics[0].reason).toContain("no measurement succeeded");
  });

  it("a provider that hangs is an error after the measurement timeout", async () => {
    const provider = scripted({ m: ["hang"] });
    const run = new AnalysisRun({
      metrics: [metric({ consecutiveErrorLimit: 1 })],
      providers: { json: provider },
      intervalMs: 1000,
      measurementTimeoutMs: 30,
      clock: virtualClock(),
    });
    const r = await run.run({ durationMs: 1000 });
    expect(r.outcome).toBe("error");
    expect(r.measurements[0].error).toContain("timed out");
  });
});

describe("minSamples", () => {
  it("a measurement over fewer samples is inconclusive and not counted", async () => {
    const m = metric({ provider: "proxy", query: "errorRate", url: undefined, max: 0.01, minSamples: 50 });
    const provider = { ...scripted({ m: [{ value: 0.5, samples: 10 }] }), kind: "proxy" as const };
    const run = new AnalysisRun({
      metrics: [m],
      providers: { proxy: provider },
      intervalMs: 1000,
      clock: virtualClock(),
    });
    const r = await run.run({ durationMs: 3000 });
    expect(r.outcome).toBe("inconclusive");
    expect(r.metrics[0]).toMatchObject({ failed: 0, inconclusive: 3 });
    expect(r.measurements[0].reason).toContain("fewer than minSamples 50");
  });

  it("once there are enough samples the value counts", async () => {
    const m = metric({ provider: "proxy", query: "errorRate", url: undefined, max: 0.01, minSamples: 50 });
    const steps: Step[] = [
      { value: 0.5, samples: 10 },
      { value: 0.5, samples: 60 },
    ];
    const provider = { ...scripted({ m: steps }), kind: "proxy" as const };
    const run = new AnalysisRun({
      metrics: [m],
      providers: { proxy: provider },
      intervalMs: 1000,
      clock: virtualClock(),
    });
    const r = await run.run({ durationMs: 5000 });
    expect(r.outcome).toBe("failed");
    expect(r.measurements.map((x) => x.verdict)).toEqual(["inconclusive", "fail"]);
  });
});

describe("noData policy", () => {
  const cases: ["pass" | "fail" | "inconclusive", Outcome][] = [
    ["pass", "successful"],
    ["fail", "failed"],
    ["inconclusive", "inconclusive"],
  ];
  for (const [policy, outcome] of cases) {
    it(`noData: ${policy} → ${outcome}`, async () => {
      const { run } = runWith([metric({ noData: policy })], { m: ["nodata"] });
      const r = await run.run({ durationMs: 3000 });
      expect(r.outcome).toBe(outcome);
      expect(r.measurements[0]).toMatchObject({ noData: true, reason: `no data (noData: ${policy})` });
    });
  }

  it("no data is an answer: it resets the consecutive error count", async () => {
    const { run } = runWith([metric({ consecutiveErrorLimit: 2 })], {
      m: ["error", "nodata", "error", "nodata"],
    });
    const r = await run.run({ durationMs: 4000 });
    expect(r.outcome).toBe("error"); // nothing passed and errors happened: never successful
    expect(r.measurements).toHaveLength(4);
  });
});

describe("run outcome: worst wins", () => {
  it("orders failed > error > inconclusive > running > successful", () => {
    expect(worstOutcome(["successful", "running"])).toBe("running");
    expect(worstOutcome(["running", "inconclusive"])).toBe("inconclusive");
    expect(worstOutcome(["inconclusive", "error", "successful"])).toBe("error");
    expect(worstOutcome(["error", "failed", "inconclusive"])).toBe("failed");
    expect(worstOutcome([])).toBe("successful");
  });

  it("one failed metric fails the run while the others pass; the evidence names it", async () => {
    const metrics = [metric({ name: "a" }), metric({ name: "b", failureLimit: 2 }), metric({ name: "c" })];
    const { run } = runWith(metrics, { a: [1], b: [1, 99, 99], c: ["nodata"] });
    const r = await run.run({ durationMs: 10_000 });
    expect(r.outcome).toBe("failed");
    expect(r.decidedBy?.metric).toBe("b");
    expect(r.summary).toMatch(/^failed: b 99 > max 10 \(failed 2 of failureLimit 2\)$/);
    expect(r.measurements.filter((x) => x.metric === "b").map((x) => x.value)).toEqual([1, 99, 99]);
  });

  it("an inconclusive metric makes a passing run inconclusive; an erroring one makes it error", async () => {
    const a = runWith([metric({ name: "a" }), metric({ name: "b" })], { a: [1], b: ["nodata"] });
    expect((await a.run.run({ durationMs: 2000 })).outcome).toBe("inconclusive");
    const b = runWith([metric({ name: "a" }), metric({ name: "b" }), metric({ name: "c" })], {
      a: [1],
      b: ["nodata"],
      c: ["error"],
    });
    expect((await b.run.run({ durationMs: 2000 })).outcome).toBe("error");
  });

  it("warning metrics are recorded and reported but do not decide", async () => {
    const { run } = runWith([metric({ name: "a" }), metric({ name: "w", severity: "warning" })], {
      a: [1],
      w: [99],
    });
    const r = await run.run({ durationMs: 3000 });
    expect(r.outcome).toBe("successful");
    expect(r.warnings).toEqual([expect.stringContaining("w failed: 99 > max 10")]);
    expect(r.measurements.filter((x) => x.metric === "w")).toHaveLength(3);
  });

  it("no metrics: successful", async () => {
    const { run } = runWith([], {});
    expect((await run.run({ durationMs: 1000 })).outcome).toBe("successful");
  });
});

describe("scheduling", () => {
  it("measures every interval, the first one interval after the start and the last at the end", async () => {
    const { run, provider, clock } = runWith(
      [metric({ name: "a" }), metric({ name: "b", interval: "20s" })],
      { a: [1], b: [1] },
      5000,
    );
    const t0 = clock.t;
    const r = await run.run({ durationMs: 60_000 });
    expect(r.outcome).toBe("successful");
    expect(provider.calls.a.map((t) => t - t0)).toEqual(
      [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60].map((s) => s * 1000),
    );
    expect(provider.calls.b.map((t) => t - t0)).toEqual([20_000, 40_000, 60_000]);
    expect(clock.t - t0).toBe(60_000);
  });

  it("a duration that is not a multiple of the interval still measures at the end; 0 measures once now", async () => {
    const a = runWith([metric()], { m: [1] }, 4000);
    const t0 = a.clock.t;
    await a.run.run({ durationMs: 10_000 });
    expect(a.provider.calls.m.map((t) => t - t0)).toEqual([4000, 8000, 10_000]);
    const b = runWith([metric()], { m: [1] }, 4000);
    const t1 = b.clock.t;
    expect((await b.run.run({ durationMs: 0 })).outcome).toBe("successful");
    expect(b.provider.calls.m.map((t) => t - t1)).toEqual([0]);
  });

  it("an aborted run returns its evidence, marked interrupted, without finishing the metrics", async () => {
    const ctl = new AbortController();
    const provider = scripted({ m: [1] });
    const clock = virtualClock();
    const run = new AnalysisRun({
      metrics: [metric()],
      providers: { json: provider },
      intervalMs: 1000,
      clock,
      onMeasurement: (rec) => {
        if (provider.calls.m.length === 2) ctl.abort();
        expect(rec.metric).toBe("m");
      },
    });
    const r = await run.run({ durationMs: 60_000, signal: ctl.signal });
    expect(r.interrupted).toBe(true);
    expect(r.outcome).toBe("running");
    expect(r.measurements).toHaveLength(2);
  });

  it("measureOnce accumulates state across calls (the watch loop)", async () => {
    const { run } = runWith([metric({ failureLimit: 2 })], { m: [99, 1, 99] });
    expect((await run.measureOnce()).outcome).toBe("running");
    expect((await run.measureOnce()).outcome).toBe("running");
    const s = await run.measureOnce();
    expect(s.outcome).toBe("failed");
    expect(s.decidedBy?.metric).toBe("m");
    expect(s.measurements).toHaveLength(1);
    expect(run.result().measurements).toHaveLength(3);
  });

  it("a metric whose provider is not available is a spec error naming it", () => {
    expect(
      () =>
        new AnalysisRun({
          metrics: [metric({ name: "cpu", provider: "driver", query: "cpu", url: undefined })],
          providers: {},
          intervalMs: 1000,
        }),
    ).toThrow(SpecError);
    try {
      new AnalysisRun({
        metrics: [metric({ name: "cpu", provider: "driver", query: "cpu", url: undefined })],
        providers: {},
        intervalMs: 1000,
      });
    } catch (e) {
      expect((e as Error).message).toBe(
        'analysis.metrics.0.provider: metric "cpu": the driver provider is not available for this target',
      );
    }
  });
});
