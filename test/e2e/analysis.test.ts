/**
 * Metric analysis in deploys, end to end: the real CLI, the real daemon, the real proxy, real app
 * processes under real HTTP load, and a real Prometheus. The app answers 500 on every Nth request
 * (ERROR_RATE=0.05 → every 20th), so error rates are exact, not random.
 */
import { createServer, type Server } from "node:http";
import { Agent, get } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { startPrometheus, type PrometheusServer } from "../support/prometheus.js";
import { freePort } from "../support/ports.js";
import { apiOnlySpec, makeProject, waitFor, type Project } from "./harness.js";

const APP = `
import { createServer } from "node:http";
import { existsSync } from "node:fs";
const version = process.env.SLIPWAY_VERSION;
const rate = Number(process.env.ERROR_RATE || 0);
const every = rate > 0 ? Math.round(1 / rate) : 0;
const flag = process.env.ERROR_FLAG || "";
const slowFirst = Number(process.env.SLOW_FIRST || 0);
let n = 0;
const srv = createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  n++;
  if (n <= slowFirst) { setTimeout(() => res.end(version), 300); return; }
  if (every && (!flag || existsSync(flag)) && n % every === 0) { res.writeHead(500); return res.end("error " + version); }
  res.end(version);
});
srv.keepAliveTimeout = 30000;
srv.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

let project: Project | undefined;
let load: Load | undefined;
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  load?.stop();
  load = undefined;
  for (const c of closers) await c();
  closers = [];
  await project?.cleanup();
  project = undefined;
});

/** One service `api` behind the proxy, the analysis block given, everything else small and fast. */
async function analysisProject(analysis: string, rollout = ""): Promise<Project> {
  const p = (project = await makeProject());
  writeFileSync(join(p.dir, "app", "app.js"), APP);
  writeFileSync(
    p.file,
    apiOnlySpec(p.ports.api, {
      env: 'ERROR_RATE: "${ERROR_RATE:-0}", ERROR_FLAG: "${ERROR_FLAG:-}", SLOW_FIRST: "${SLOW_FIRST:-0}"',
      rollout: `drainTimeout: 2s, keepWarm: "\${KEEP_WARM:-0s}"${rollout}`,
      rest: analysis,
    }),
  );
  return p;
}

interface Load {
  responses: { at: number; status: number; body: string }[];
  stop(): void;
}

/** Steady HTTP load on the public port (keep-alive), every response recorded. */
function startLoad(port: number, perSecond: number): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const responses: Load["responses"] = [];
  const timer = setInterval(() => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => responses.push({ at: Date.now(), status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => responses.push({ at: Date.now(), status: 0, body: "" }));
  }, 1000 / perSecond);
  return {
    responses,
    stop() {
      clearInterval(timer);
      agent.destroy();
    },
  };
}

interface Evidence {
  phase: string;
  weight?: number;
  result: {
    outcome: string;
    decidedBy?: { metric: string; reason: string };
    metrics: { name: string; phase: string; failed: number; measured: number }[];
    measurements: { metric: string; value?: number; max?: number; verdict: string; error?: string }[];
  };
}
interface RevisionJson {
  number: number;
  status: string;
  description: string;
  reason?: string;
  facts: { analysis?: Evidence[]; trigger?: { kind: string; revision: number } };
}
const revision = (p: Project, n: number) =>
  p.cli(["history", "development", String(n), "--json"]).json<{ result: { revision: RevisionJson }[] }>()
    .result[0].revision;

describe("metric analysis in deploys", () => {
  it("a release with 5 % errors is rolled back during the bake (exit 1); history shows the evidence", async () => {
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 20 }
  watch: { autoRollbackWindow: 0s }
`);
    load = startLoad(p.ports.api, 100);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { ERROR_RATE: "0.05" },
    });
    load.stop();
    expect(v2.code, v2.stderr).toBe(1);
    expect(v2.stderr).toMatch(/bake: error-rate [\d.]+ % \(\d+ req\) ✖/);
    expect(v2.stderr).toContain("traffic back on the previous instances");
    expect((await p.get("api")).body).toBe("v1");

    const rev = revision(p, 2);
    expect(rev.status).toBe("failed");
    expect(rev.reason).toMatch(/bake: analysis failed: error-rate [\d.]+ % > max 1 %/);
    const bake = rev.facts.analysis!.find((e) => e.phase === "bake")!;
    expect(bake.result.outcome).toBe("failed");
    expect(bake.result.decidedBy?.metric).toBe("error-rate");
    const bad = bake.result.measurements.find((m) => m.verdict === "fail")!;
    expect(bad).toMatchObject({ metric: "error-rate", max: 0.01 });
    // Every 20th request fails: about 5 % in a window of about 100 requests.
    expect(bad.value).toBeGreaterThan(0.03);
    expect(bad.value).toBeLessThan(0.08);

    const human = p.cli(["history", "development", "2"]);
    expect(human.stdout).toMatch(/analysis \(bake 3\.0s\): failed: error-rate [\d.]+ % > max 1 %/);
    expect(human.stdout).toMatch(/error-rate\s+proxy errorRate\s+≤ 1 %\s+failed ◀ decided/);
    expect(human.stdout).toMatch(/ [\d.]+ % ✖/);
    // The good release's bake passed and is on record too.
    expect(revision(p, 1).facts.analysis![0].result.outcome).toBe("successful");
  });

  it("failureLimit 2: one bad measurement does not roll back; a failing warning metric only alerts", async () => {
    // The metric's source is a real HTTP server whose answer the test controls: the second
    // measurement (and only it) sees a bad value.
    let fetches = 0;
    const server: Server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/backlog") return res.end(JSON.stringify({ queue: 99 }));
      fetches++;
      res.end(JSON.stringify({ errors: fetches === 2 ? 0.05 : 0 }));
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: app-errors, provider: json, url: "http://127.0.0.1:${port}/", query: errors, max: 1%, failureLimit: 2 }
    - { name: backlog, provider: json, url: "http://127.0.0.1:${port}/backlog", query: queue, max: 10, severity: warning }
  watch: { autoRollbackWindow: 0s }
`);
    const r = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bake: app-errors 0.05 ✖/);
    const bake = revision(p, 1).facts.analysis![0];
    expect(bake.result.outcome).toBe("successful");
    expect(bake.result.metrics[0]).toMatchObject({ name: "app-errors", measured: 3, failed: 1 });
    expect(bake.result.measurements.filter((m) => m.metric === "app-errors").map((m) => m.verdict)).toEqual([
      "pass",
      "fail",
      "pass",
    ]);
    // The warning metric failed at its first measurement, was reported, and decided nothing.
    expect(bake.result.metrics[1]).toMatchObject({ name: "backlog", phase: "failed" });
    expect((await p.get("api")).body).toBe("v1");
    const store = SqliteStore.open({ home: p.home });
    try {
      const warnings = (await store.listEvents("e2e", "development")).filter(
        (e) => e.kind === "analysis.breach",
      );
      expect(warnings.map((e) => e.severity)).toEqual(["warning"]);
      expect(warnings[0].message).toContain("backlog failed: 99 > max 10");
    } finally {
      await store.close();
    }
  });

  it("failureLimit 2 through the proxy: the first failed measurement keeps v2 serving, the second rolls back and decides", async () => {
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 6s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 20, failureLimit: 2 }
  watch: { autoRollbackWindow: 0s }
`);
    load = startLoad(p.ports.api, 100);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { ERROR_RATE: "0.05" },
    });
    const answered = load.responses.filter((x) => x.status);
    load.stop();
    expect(v2.code, v2.stderr).toBe(1);
    expect(v2.stderr.match(/bake: error-rate [\d.]+ % \(\d+ req\) ✖/g)).toHaveLength(2);
    expect((await p.get("api")).body).toBe("v1");

    const rev = revision(p, 2);
    expect(rev.reason).toMatch(
      /bake: analysis failed: error-rate [\d.]+ % > max 1 % \(failed 2 of failureLimit 2\)/,
    );
    const bake = rev.facts.analysis!.find((e) => e.phase === "bake")!;
    const ms = bake.result.measurements as (Evidence["result"]["measurements"][number] & {
      phase: string;
      count: string;
      at: string;
    })[];
    // A window with fewer than 20 requests (a stalled machine) is inconclusive and not counted;
    // every counted one is a failure, and the run stopped at the second.
    const counted = ms.filter((m) => m.verdict !== "inconclusive");
    expect(counted.map((m) => [m.verdict, m.phase, m.count])).toEqual([
      ["fail", "running", "failed 1 of failureLimit 2"],
      ["fail", "failed", "failed 2 of failureLimit 2"],
    ]);
    expect(ms.at(-1)).toBe(counted[1]);
    expect(bake.result.decidedBy).toMatchObject({ metric: "error-rate", phase: "failed" });
    expect(bake.result.decidedBy?.reason).toContain("(failed 2 of failureLimit 2)");
    expect(bake.result.metrics[0]).toMatchObject({ name: "error-rate", failed: 2, phase: "failed" });
    for (const m of counted) expect(m.value).toBeGreaterThan(0.03);
    // The first failure did not roll back: v2 went on answering after it was measured.
    const firstFail = Date.parse(counted[0].at);
    expect(answered.some((x) => x.at > firstFail + 200 && x.body.endsWith("v2"))).toBe(true);
  });

  it("minSamples: a window of a few requests is inconclusive and not counted, even when they errored", async () => {
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 50 }
  watch: { autoRollbackWindow: 0s }
`);
    // 5 requests a second: about 5 per window, far below minSamples 50.
    load = startLoad(p.ports.api, 5);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    // Every 2nd request of v2 is a 500: a 50 % error rate, over too few requests to count.
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], { env: { ERROR_RATE: "0.5" } });
    const answered = load.responses.filter((x) => x.status);
    load.stop();
    expect(v2.code, v2.stderr).toBe(0);
    expect(v2.stderr).toMatch(/bake inconclusive, proceeding: error-rate/);
    expect(v2.stderr).not.toContain("traffic back on the previous instances");
    expect((await p.get("api")).body).toMatch(/v2$/);
    // v2 did answer errors to the clients while it was measured.
    expect(answered.filter((x) => x.status === 500 && x.body === "error v2").length).toBeGreaterThan(0);

    const rev = revision(p, 2);
    expect(rev.status).not.toBe("failed");
    const bake = rev.facts.analysis!.find((e) => e.phase === "bake")!;
    expect(bake.result.outcome).toBe("inconclusive");
    expect(bake.result.metrics[0]).toMatchObject({ name: "error-rate", failed: 0, phase: "inconclusive" });
    const ms = bake.result.measurements as (Evidence["result"]["measurements"][number] & {
      samples?: number;
      reason: string;
    })[];
    expect(ms.map((m) => m.verdict)).toEqual(["inconclusive", "inconclusive", "inconclusive"]);
    for (const m of ms) expect(m.samples).toBeLessThan(50);
    // At least one window saw errors above max — recorded with its value, and still not counted.
    const over = ms.filter((m) => (m.value ?? 0) > 0.01);
    expect(over.length).toBeGreaterThan(0);
    expect(over[0].reason).toMatch(/over \d+ samples, fewer than minSamples 50: not counted/);
  });

  it("latency percentiles are per window: a slow start that recovered is one bad measurement, not three", async () => {
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: p95, provider: proxy, query: latencyP95, max: 100ms, minSamples: 20, failureLimit: 2 }
  watch: { autoRollbackWindow: 0s }
`);
    load = startLoad(p.ports.api, 100);
    // The first 30 requests take 300 ms (all within the first window), the rest are fast. Over
    // the whole bake 30 of ~300 requests are slow (10 % > 5 %): a cumulative p95 would stay at
    // 300 ms and fail twice.
    const r = await p.cliAsync(["deploy", "development", "--version", "v1"], { env: { SLOW_FIRST: "30" } });
    load.stop();
    expect(r.code, r.stderr).toBe(0);
    const ms = revision(p, 1).facts.analysis![0].result.measurements;
    expect(ms.map((m) => m.verdict)).toEqual(["fail", "pass", "pass"]);
    expect(ms[0].value).toBeGreaterThan(0.25);
    expect(ms[2].value).toBeLessThan(0.1);
  });

  it("a canary failing at 10 % never reaches 50 %: all traffic back on stable at once", async () => {
    const p = await analysisProject(
      `analysis:
  interval: 1s
  bake: 1s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 5 }
  watch: { autoRollbackWindow: 0s }
`,
      ", strategy: canary, steps: [{ weight: 10, pause: 4s }, { weight: 50, pause: 4s }]",
    );
    load = startLoad(p.ports.api, 100);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], { env: { ERROR_RATE: "0.1" } });
    const answered = load.responses.filter((x) => x.status);
    load.stop();
    expect(v2.code, v2.stderr).toBe(1);
    expect(v2.stderr).toContain("api: 10% of traffic on the candidate");
    expect(v2.stderr).not.toContain("50% of traffic");
    expect(v2.stderr).toContain("canary aborted at 10%: analysis failed: error-rate");
    // While v2 served, it served about one request in ten (never half).
    const v2At = answered.filter((x) => x.body.endsWith("v2")).map((x) => x.at);
    expect(v2At.length).toBeGreaterThan(0);
    const during = answered.filter((x) => x.at >= v2At[0] && x.at <= v2At[v2At.length - 1]);
    expect(v2At.length / during.length).toBeLessThan(0.2);
    for (let i = 0; i < 5; i++) expect((await p.get("api")).body).toBe("v1");
    const canary = revision(p, 2).facts.analysis!;
    expect(canary.map((e) => [e.phase, e.weight, e.result.outcome])).toEqual([["canary", 10, "failed"]]);
  });

  it("a Prometheus metric with Prometheus stopped is an error: the deploy is rolled back", async () => {
    const prom: PrometheusServer = await startPrometheus({ targets: [] });
    closers.push(() => prom.stop());
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 3s
  metrics:
    - { name: queue-lag, provider: prometheus, url: "${prom.url}", query: "vector(3)", max: 30, consecutiveErrorLimit: 2 }
  watch: { autoRollbackWindow: 0s }
`);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"]);
    expect(v1.code, v1.stderr).toBe(0);
    expect(revision(p, 1).facts.analysis![0].result.measurements[0]).toMatchObject({
      value: 3,
      verdict: "pass",
    });
    await prom.stop();
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"]);
    expect(v2.code, v2.stderr).toBe(1);
    expect((await p.get("api")).body).toBe("v1");
    const rev = revision(p, 2);
    const bake = rev.facts.analysis![0];
    expect(bake.result.outcome).toBe("error");
    expect(bake.result.decidedBy?.metric).toBe("queue-lag");
    expect(bake.result.measurements.map((m) => m.verdict)).toEqual(["error", "error"]);
    expect(rev.reason).toMatch(/analysis error: queue-lag could not measure/);
    expect(p.cli(["history", "development", "2"]).stdout).toContain("queue-lag");
  });

  it("the daemon's watch rolls back a release that starts failing after its deploy, with an alert", async () => {
    const p = await analysisProject(`analysis:
  interval: 1s
  bake: 0s
  metrics:
    - { name: error-rate, provider: proxy, query: errorRate, max: 1%, minSamples: 20 }
  watch: { autoRollbackWindow: 2m }
`);
    const flag = join(p.dir, "errors.on");
    const env = { KEEP_WARM: "5m" };
    load = startLoad(p.ports.api, 100);
    const v1 = await p.cliAsync(["deploy", "development", "--version", "v1"], { env });
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = await p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { ...env, ERROR_RATE: "0.05", ERROR_FLAG: flag },
    });
    expect(v2.code, v2.stderr).toBe(0);
    // v2 is healthy for a while; the watch has it (no rollback yet).
    await new Promise((r) => setTimeout(r, 3000));
    expect(load.responses.at(-1)?.body).toBe("v2");
    const t0 = Date.now();
    writeFileSync(flag, "on");
    await waitFor(
      () => {
        const recent = load!.responses.filter((x) => x.at > Date.now() - 500);
        return recent.length > 10 && recent.every((x) => x.body === "v1");
      },
      { what: "traffic back on v1", timeoutMs: 30_000 },
    );
    expect(Date.now() - t0).toBeLessThan(30_000);
    load.stop();

    const broken = revision(p, 2);
    expect(broken.status).toBe("rolled-back");
    expect(broken.reason).toMatch(/analysis breach .* after the deploy: failed: error-rate/);
    const watch = broken.facts.analysis!.find((e) => e.phase === "watch")!;
    expect(watch.result.decidedBy?.metric).toBe("error-rate");
    const back = revision(p, 3);
    expect(back.description).toMatch(/^automatic rollback to revision 1: failed: error-rate/);
    expect(back.facts.trigger).toMatchObject({ kind: "analysis.breach", revision: 2 });

    const store = SqliteStore.open({ home: p.home });
    try {
      const events = await store.listEvents("e2e", "development");
      const breach = events.find((e) => e.kind === "analysis.breach");
      expect(breach).toMatchObject({ severity: "critical", revision: 2 });
      expect(breach?.message).toContain("rolling back to revision 1");
    } finally {
      await store.close();
    }
  });
});
