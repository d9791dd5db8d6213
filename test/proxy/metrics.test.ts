/** The proxy's Prometheus histogram from its fine log buckets (pure; the e2e scrapes the real thing). */
import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../../src/proxy/histogram.js";
import { LE_SECONDS, leCounts, prometheusText } from "../../src/proxy/metrics.js";

describe("proxy metrics", () => {
  it("turns the log buckets into cumulative le buckets with _sum and _count", () => {
    const h = new LatencyHistogram();
    const samples = [0.3, 0.8, 3, 7, 40, 40, 200, 900, 4_000, 120_000];
    for (const ms of samples) h.record(ms);
    const counts = leCounts(h.nonEmpty(), h.count);
    const expected = LE_SECONDS.map((le) => samples.filter((ms) => ms <= le * 1000).length);
    expect(counts).toEqual([...expected, samples.length]);

    const text = prometheusText(
      [
        {
          id: "a",
          route: "p/e/s",
          slot: "stable",
          requests: h.count,
          statuses: { "2xx": 9, "5xx": 1 },
          inFlight: 2,
          latency: { p50: 0, p95: 0, p99: 0 },
          latencyBuckets: h.nonEmpty(),
          latencySumMs: h.sum,
          ejected: false,
        },
      ],
      1,
    );
    const l = 'route="p/e/s",target="a",slot="stable"';
    expect(text).toContain(`slipway_proxy_request_duration_seconds_bucket{${l},le="0.001"} 2\n`);
    expect(text).toContain(`slipway_proxy_request_duration_seconds_bucket{${l},le="60"} 9\n`);
    expect(text).toContain(`slipway_proxy_request_duration_seconds_bucket{${l},le="+Inf"} 10\n`);
    expect(text).toContain(`slipway_proxy_request_duration_seconds_count{${l}} 10\n`);
    expect(text).toContain(`slipway_proxy_request_duration_seconds_sum{${l}} 125.1911\n`);
    expect(text).toContain(`slipway_proxy_requests_total{${l},class="5xx"} 1\n`);
    expect(text).toContain(`slipway_proxy_in_flight{${l}} 2\n`);
  });
});
