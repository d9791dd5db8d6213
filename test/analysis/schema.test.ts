/** The analysis block of slipway.yaml: defaults, thresholds in base units, errors naming the field. */
import { describe, expect, it } from "vitest";
import { analysisSchema, defaultMetrics, parseThreshold } from "../../src/spec/schema-analysis.js";

const issues = (input: unknown) =>
  analysisSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];

describe("analysis schema", () => {
  it("defaults from the guides: error rate > 1 %, p95 > 2 s, CPU > 90 %, memory > 90 %", () => {
    const a = analysisSchema.parse({});
    expect(a).toMatchObject({ interval: 5000, bake: 60_000, watch: { autoRollbackWindow: 900_000 } });
    expect(a.metrics).toEqual(defaultMetrics);
    expect(a.metrics.map((m) => [m.name, m.provider, m.query, m.max])).toEqual([
      ["error-rate", "proxy", "errorRate", 0.01],
      ["latency-p95", "proxy", "latencyP95", 2],
      ["cpu", "driver", "cpu", 0.9],
      ["memory", "driver", "memory", 0.9],
    ]);
    expect(a.metrics[0]).toMatchObject({ failureLimit: 1, consecutiveErrorLimit: 4, noData: "inconclusive" });
    expect(analysisSchema.parse({ metrics: [] }).metrics).toEqual([]);
  });

  it("parses the DESIGN example", () => {
    const a = analysisSchema.parse({
      interval: "5s",
      bake: "60s",
      metrics: [
        {
          name: "error-rate",
          provider: "proxy",
          query: "errorRate",
          max: "1%",
          failureLimit: 2,
          minSamples: 50,
        },
        { name: "p95", provider: "proxy", query: "latencyP95", max: "2s" },
        { name: "cpu", provider: "driver", query: "cpu", max: "90%" },
        { name: "memory", provider: "driver", query: "memory", max: "90%" },
        {
          name: "queue-lag",
          provider: "prometheus",
          url: "http://127.0.0.1:9090",
          query: "max(job_queue_lag_seconds)",
          max: 30,
          noData: "inconclusive",
        },
      ],
      watch: { autoRollbackWindow: "15m" },
    });
    expect(a.metrics.map((m) => m.max)).toEqual([0.01, 2, 0.9, 0.9, 30]);
    expect(a.metrics[0]).toMatchObject({ failureLimit: 2, minSamples: 50 });
  });

  it("thresholds: percentages, durations in seconds, sizes in bytes, numbers", () => {
    expect(parseThreshold("1%")).toBe(0.01);
    expect(parseThreshold("250ms")).toBe(0.25);
    expect(parseThreshold("2s")).toBe(2);
    expect(parseThreshold("1m")).toBe(60);
    expect(parseThreshold("512Mi")).toBe(512 * 1024 * 1024);
    expect(parseThreshold("1.5")).toBe(1.5);
    expect(parseThreshold(-3)).toBe(-3);
    expect(parseThreshold("lots")).toBeUndefined();
  });

  it("reports what is wrong, on the field that is wrong", () => {
    expect(
      issues({
        interval: "soon",
        metrics: [
          { name: "a", provider: "proxy", query: "errors", max: "lots" },
          { name: "a", provider: "prometheus", query: "up", minSamples: 5, min: 1 },
          { name: "c", provider: "scrape", query: "x_total", url: "/metrics", max: 1, typo: 1 },
          { name: "d", provider: "json", query: "x", url: "http://h/x" },
        ],
      }),
    ).toEqual([
      "interval: expected a duration like 5s",
      'metrics.0.max: expected a number, a percentage (1%), a duration (2s) or a size (512Mi), got "lots"',
      "metrics.1.url: the prometheus provider needs a url",
      "metrics.1.minSamples: only the proxy provider counts samples (requests); remove it from a prometheus metric",
      'metrics.2: Unrecognized key: "typo"',
      "metrics.2.service: a path url (/metrics) is fetched from a service's instances: name the service",
      "metrics.3.max: give max, min or both",
    ]);
    expect(issues({ metrics: [{ name: "a", provider: "proxy", query: "errRate", max: 1 }] })).toEqual([
      'metrics.0.query: the proxy provider knows errorRate, latencyP50, latencyP95, latencyP99, requestRate; got "errRate"',
    ]);
    expect(
      issues({
        metrics: [
          { name: "a", provider: "proxy", query: "errorRate", max: 1 },
          { name: "a", provider: "scrape", query: "x", url: "/metrics", max: 1 },
        ],
      }),
    ).toEqual([
      "metrics.1.service: a path url (/metrics) is fetched from a service's instances: name the service",
      'metrics.1.name: duplicate metric name "a"',
    ]);
  });
});
