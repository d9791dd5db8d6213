/** The scrape and json providers against real HTTP apps on loopback ports. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnalysisRun, JsonProvider, ScrapeProvider } from "../../src/analysis/index.js";
import type { ProviderContext } from "../../src/analysis/provider.js";
import { metricSchema, type AnalysisMetric } from "../../src/spec/schema-analysis.js";
import { freePort } from "../support/ports.js";
import { startMetricsApp, type MetricsApp } from "./app.js";

let a: MetricsApp;
let b: MetricsApp;

beforeAll(async () => {
  [a, b] = await Promise.all([startMetricsApp(), startMetricsApp()]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

let clock = 1_000_000;
const ctx = (): ProviderContext => ({ signal: new AbortController().signal, now: () => clock });

function m(over: Record<string, unknown>): AnalysisMetric {
  return metricSchema.parse({ name: "m", max: 10, ...over });
}

describe("scrape provider", () => {
  it("sums the series a selector matches, with = != =~ !~ matchers", async () => {
    a.requests = { "200": 90, "500": 7, "503": 3 };
    const p = new ScrapeProvider();
    const read = async (query: string) =>
      (await p.measure(m({ provider: "scrape", url: `${a.url}/metrics`, query }), ctx())).value;
    expect(await read("app_requests_total")).toBe(100);
    expect(await read('app_requests_total{code=~"5.."}')).toBe(10);
    expect(await read('app_requests_total{code!~"5..",path="/api"}')).toBe(90);
    expect(await read('app_requests_total{code!="200"}')).toBe(10);
  });

  it("a series that is not exposed is no data; an endpoint answering 500 is an error", async () => {
    const p = new ScrapeProvider();
    const missing = await p.measure(
      m({ provider: "scrape", url: `${a.url}/metrics`, query: "nope_total" }),
      ctx(),
    );
    expect(missing).toMatchObject({ noData: true });
    a.failWith = 500;
    try {
      const r = await p.measure(
        m({ provider: "scrape", url: `${a.url}/metrics`, query: "app_requests_total" }),
        ctx(),
      );
      expect(r.error).toBe(`GET ${a.url}/metrics: HTTP 500 broken`);
    } finally {
      a.failWith = undefined;
    }
  });

  it("rate() and increase() read a counter's change since the previous measurement", async () => {
    const p = new ScrapeProvider();
    const rate = m({
      name: "r",
      provider: "scrape",
      url: `${a.url}/metrics`,
      query: 'rate(app_requests_total{code="500"})',
    });
    const inc = m({
      name: "i",
      provider: "scrape",
      url: `${a.url}/metrics`,
      query: 'increase(app_requests_total{code="500"})',
    });
    a.requests = { "200": 0, "500": 10 };
    expect(await p.measure(rate, ctx())).toMatchObject({ noData: true }); // no window yet
    expect(await p.measure(inc, ctx())).toMatchObject({ noData: true });
    a.requests = { "200": 0, "500": 30 };
    clock += 4000;
    expect((await p.measure(rate, ctx())).value).toBe(5);
    expect((await p.measure(inc, ctx())).value).toBe(20);
    a.requests = { "200": 0, "500": 4 }; // the app restarted: its counter starts again
    clock += 2000;
    expect((await p.measure(inc, ctx())).value).toBe(4);
  });

  it("a path url is fetched from each instance of the service; the worst instance decides", async () => {
    a.gauges = { queue_lag_seconds: 3 };
    b.gauges = { queue_lag_seconds: 42 };
    const asked: string[] = [];
    const p = new ScrapeProvider({
      instanceUrls: async (service) => {
        asked.push(service);
        return [a.url, b.url];
      },
    });
    const metric = m({
      provider: "scrape",
      url: "/metrics",
      service: "worker",
      query: "queue_lag_seconds",
      max: 30,
    });
    const run = new AnalysisRun({ metrics: [metric], providers: { scrape: p }, intervalMs: 50 });
    const r = await run.run({ durationMs: 0 });
    expect(asked).toEqual(["worker"]);
    expect(r.outcome).toBe("failed");
    expect(r.measurements[0]).toMatchObject({ value: 42, reason: "42 > max 30" });
    const low = m({
      provider: "scrape",
      url: "/metrics",
      service: "worker",
      query: "queue_lag_seconds",
      min: 1,
      max: undefined,
    });
    expect((await p.measure(low, ctx())).value).toBe(3);
  });

  it("credentials in the url are sent as Basic auth and never appear in messages", async () => {
    a.auth = "scraper:s3cret-pw";
    try {
      const p = new ScrapeProvider();
      const ok = await p.measure(
        m({
          provider: "scrape",
          url: `http://scraper:s3cret-pw@127.0.0.1:${a.port}/metrics`,
          query: "app_requests_total",
        }),
        ctx(),
      );
      expect(ok.error).toBeUndefined();
      expect(ok.value).toBeTypeOf("number");
      const bad = await p.measure(
        m({
          provider: "scrape",
          url: `http://scraper:wrong-pw@127.0.0.1:${a.port}/metrics`,
          query: "app_requests_total",
        }),
        ctx(),
      );
      expect(bad.error).toContain("HTTP 401");
      expect(bad.error).not.toContain("wrong-pw");
      expect(bad.error).not.toContain("scraper");
    } finally {
      a.auth = undefined;
    }
  });
});

describe("json provider", () => {
  it("reads a number at a dotted path", async () => {
    a.status = { queue: { lag: 12.5 }, workers: [{ busy: 0.4 }, { busy: 0.9 }], healthy: true, count: "17" };
    const p = new JsonProvider();
    const read = (query: string) => p.measure(m({ provider: "json", url: `${a.url}/status`, query }), ctx());
    expect((await read("queue.lag")).value).toBe(12.5);
    expect((await read("workers.1.busy")).value).toBe(0.9);
    expect((await read("healthy")).value).toBe(1);
    expect((await read("count")).value).toBe(17);
    expect(await read("queue.depth")).toMatchObject({ noData: true });
    expect((await read("queue")).error).toMatch(/"queue" is \{"lag":12.5\}, not a number/);
  });

  it("a JSON value above max fails a run; not JSON and connection refused are errors", async () => {
    a.status = { queue: { lag: 99 } };
    const p = new JsonProvider();
    const metric = m({ provider: "json", url: `${a.url}/status`, query: "queue.lag", max: 30 });
    const r = await new AnalysisRun({ metrics: [metric], providers: { json: p }, intervalMs: 50 }).run({
      durationMs: 100,
    });
    expect(r.outcome).toBe("failed");
    expect(
      (await p.measure(m({ provider: "json", url: `${a.url}/metrics`, query: "x" }), ctx())).error,
    ).toMatch(/not JSON/);
    const port = await freePort();
    const down = await p.measure(
      m({ provider: "json", url: `http://127.0.0.1:${port}/status`, query: "x" }),
      ctx(),
    );
    expect(down.error).toMatch(new RegExp(`GET http://127.0.0.1:${port}/status: .*ECONNREFUSED`));
  });
});
