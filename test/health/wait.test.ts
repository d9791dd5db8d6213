import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpProbe } from "../../src/health/http.js";
import type { ProbeResult } from "../../src/health/probe.js";
import { waitHealthy, type HealthTimings } from "../../src/health/wait.js";

// A real HTTP server whose /ready turns healthy after `readyAfter` requests.
let srv: Server;
let port: number;
let hits = 0;
let readyAfter = Infinity;
let stallHits = 0;
beforeAll(async () => {
  srv = createServer((req, res) => {
    if (req.url === "/ready") {
      hits++;
      res.writeHead(hits > readyAfter ? 200 : 503).end();
    } else if (req.url === "/stalls") {
      // 503 at once, then no answer at all: the probe before the deadline is cut off. A counter of
      // its own: a late /ready probe of an earlier test must not make the first one stall.
      if (stallHits++ === 0) res.writeHead(503).end();
    } else if (req.url === "/flaky") {
      hits++;
      res.writeHead(hits % 2 === 0 ? 200 : 503).end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const a = srv.address();
  port = typeof a === "object" && a ? a.port : 0;
});
afterAll(() => new Promise<void>((r) => srv.close(() => r())));

const timings = (t: Partial<HealthTimings>): HealthTimings => ({
  interval: 30,
  timeout: 1000,
  startPeriod: 0,
  startTimeout: 20_000,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  ...t,
});

const target = () => ({ host: "127.0.0.1", port });

describe("waitHealthy", () => {
  it("waits through failures until the first success", async () => {
    hits = 0;
    readyAfter = 3;
    const seen: boolean[] = [];
    const r = await waitHealthy(new HttpProbe("/ready"), target(), timings({}), {
      onAttempt: (a: ProbeResult) => seen.push(a.ok),
    });
    expect(r.healthy).toBe(true);
    expect(r.reason).toBe("healthy");
    expect(r.attempts).toBe(4);
    expect(seen).toEqual([false, false, false, true]);
  });

  it("needs healthyThreshold consecutive successes", async () => {
    hits = 0;
    readyAfter = 1;
    const r = await waitHealthy(new HttpProbe("/ready"), target(), timings({ healthyThreshold: 3 }));
    expect(r.healthy).toBe(true);
    expect(r.attempts).toBe(4); // one failure, then three successes
  });

  it("a success streak broken by a failure starts over", async () => {
    hits = 0;
    // /flaky alternates 503, 200, 503 …: two in a row never happen.
    const r = await waitHealthy(
      new HttpProbe("/flaky"),
      target(),
      timings({ healthyThreshold: 2, startTimeout: 400 }),
    );
    expect(r.healthy).toBe(false);
    expect(r.reason).toBe("timeout");
    expect(r.attempts).toBeGreaterThan(2);
  });

  it("gives up at startTimeout with the last probe's evidence", async () => {
    hits = 0;
    readyAfter = Infinity;
    const r = await waitHealthy(new HttpProbe("/ready"), target(), timings({ startTimeout: 300 }));
    expect(r.healthy).toBe(false);
    expect(r.reason).toBe("timeout");
    expect(r.last.message).toContain("HTTP 503");
    expect(r.message).toContain("not healthy within 300ms");
  });

  it("a probe cut off by the deadline does not hide the evidence of the one before", async () => {
    stallHits = 0;
    const r = await waitHealthy(new HttpProbe("/stalls"), target(), timings({ startTimeout: 300 }));
    expect(r.reason).toBe("timeout");
    expect(r.attempts).toBe(2);
    expect(r.last.message).toMatch(/^HTTP 503.*\(the probe cut off at the deadline: .*tim/);
    expect(r.message).toContain("HTTP 503");
  });

  it("failFast ends after unhealthyThreshold failures, not counting those in startPeriod", async () => {
    hits = 0;
    readyAfter = Infinity;
    const fast = await waitHealthy(new HttpProbe("/ready"), target(), timings({ unhealthyThreshold: 2 }), {
      failFast: true,
    });
    expect(fast.reason).toBe("unhealthy");
    expect(fast.attempts).toBe(2);
    const graced = await waitHealthy(
      new HttpProbe("/ready"),
      target(),
      timings({ unhealthyThreshold: 2, startPeriod: 400 }),
      { failFast: true },
    );
    expect(graced.reason).toBe("unhealthy");
    expect(graced.attempts).toBeGreaterThan(2);
  });

  it("until the first success probes sooner than interval, without counting failures sooner", async () => {
    hits = 0;
    readyAfter = 2;
    // One probe per interval would give up here: the second would come after startTimeout.
    const quick = await waitHealthy(
      new HttpProbe("/ready"),
      target(),
      timings({ interval: 10_000, startTimeout: 5_000 }),
    );
    expect(quick.reason).toBe("healthy");
    expect(quick.attempts).toBe(3);
    // failFast still needs unhealthyThreshold failures one interval apart: the quicker probes
    // between them do not count.
    hits = 0;
    readyAfter = Infinity;
    const slow = await waitHealthy(
      new HttpProbe("/ready"),
      target(),
      timings({ interval: 300, unhealthyThreshold: 2 }),
      { failFast: true },
    );
    expect(slow.reason).toBe("unhealthy");
    expect(slow.attempts).toBeGreaterThan(2);
  });

  it("stops when the instance is gone or the caller aborts", async () => {
    hits = 0;
    readyAfter = Infinity;
    const gone = await waitHealthy(new HttpProbe("/ready"), target(), timings({}), { alive: () => false });
    expect(gone.reason).toBe("exited");
    expect(gone.attempts).toBe(1);
    const ac = new AbortController();
    const r = await waitHealthy(new HttpProbe("/ready"), target(), timings({}), {
      signal: ac.signal,
      onAttempt: (_r, n) => n === 2 && ac.abort(),
    });
    expect(r.reason).toBe("aborted");
    expect(r.attempts).toBe(2);
  });
});
