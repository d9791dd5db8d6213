import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "./histogram.js";
import type { MetricTarget } from "./metrics.js";
import { mergeStats, publicStats } from "./merge.js";

function worker(samples: number[], extra: Partial<MetricTarget> = {}): MetricTarget {
  const h = new LatencyHistogram();
  for (const ms of samples) h.record(ms);
  return {
    id: "web-1",
    route: "shop/prod/web",
    slot: "stable",
    requests: samples.length,
    statuses: { "2xx": samples.length, "3xx": 0, "4xx": 0, "5xx": 0, error: 0 },
    inFlight: 1,
    latency: { p50: h.quantile(0.5), p95: h.quantile(0.95), p99: h.quantile(0.99) },
    latencyBuckets: h.nonEmpty(),
    ejected: false,
    draining: false,
    websockets: 2,
    latencySumMs: h.sum,
    ...extra,
  };
}

describe("mergeStats (several worker processes)", () => {
  it("sums counters and gauges and reads percentiles from the merged buckets", () => {
    const fast = Array.from({ length: 90 }, () => 1);
    const slow = Array.from({ length: 10 }, () => 100);
    const [m] = mergeStats([[worker(fast)], [worker(slow, { ejected: true })]]);
    const all = new LatencyHistogram();
    for (const ms of [...fast, ...slow]) all.record(ms);
    expect(m).toMatchObject({ requests: 100, inFlight: 2, websockets: 4, ejected: true, draining: false });
    expect(m?.statuses["2xx"]).toBe(100);
    expect(m?.latencyBuckets).toEqual(all.nonEmpty());
    // Not an average of the two workers' p99 (1 ms and 100 ms): the p99 of all 100 requests.
    expect(m?.latency).toEqual({ p50: all.quantile(0.5), p95: all.quantile(0.95), p99: all.quantile(0.99) });
    expect(m?.latencySumMs).toBeCloseTo(90 + 1000);
    expect(publicStats([m!])[0]).not.toHaveProperty("latencySumMs");
  });

  it("keeps targets only one worker knows", () => {
    const merged = mergeStats([[worker([1])], [worker([2], { id: "web-2" })]]);
    expect(merged.map((s) => [s.id, s.requests])).toEqual([
      ["web-1", 1],
      ["web-2", 1],
    ]);
  });
});
