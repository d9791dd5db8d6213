/**
 * The proxy with two worker processes (SLIPWAY_PROXY_WORKERS=2), real processes and sockets:
 * connections spread over both workers, setRoute atomic across them, stats summed, a killed
 * worker replaced with the current routes, a taken port still refused.
 */
import { Agent } from "node:http";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, waitFor } from "../support/ports.js";
import { alive, get, load, proxySuite, route, target } from "./helpers.js";

// Read by the proxy process: one of the two workers applies every route change 300 ms late, so
// setRoute returning before every worker acked would show as requests to the old target.
process.env.SLIPWAY_TEST_SLOW_SET_MS = "300";
// Also read by the proxy: a worker that has not answered a request within 2 s counts as stuck
// (15 s otherwise), for the stuck-worker test.
process.env.SLIPWAY_TEST_ANSWER_MS = "2000";
const { px, up } = proxySuite({ workers: 2 });

/** One request on a new connection (the cluster hands each connection to the next worker). */
const noKeepAlive = new Agent({ keepAlive: false });
const fresh = (port: number, path = "/") => get(`http://127.0.0.1:${port}${path}`, { agent: noKeepAlive });

async function workers() {
  const h = await px.client.health();
  return h?.workers ?? [];
}

describe("several worker processes", () => {
  it("runs two workers besides the primary, which holds the pid file and the control socket", async () => {
    const h = await px.client.health();
    expect(h?.pid).toBe(px.pid());
    expect(h?.workers).toHaveLength(2);
    const pids = h!.workers!.map((w) => w.pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(h!.pid);
  });

  it("spreads connections over both workers and sums their stats", async () => {
    const a = await up("spread");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/spread", port, [target("spread-1", a)]));
    const before = new Map((await workers()).map((w) => [w.pid, w.requests]));
    for (let i = 0; i < 40; i++) expect((await fresh(port)).body).toBe("spread");
    const after = await workers();
    const served = after.map((w) => w.requests - (before.get(w.pid) ?? 0));
    expect(served.every((n) => n > 0)).toBe(true);
    expect(served.reduce((x, y) => x + y, 0)).toBe(40);
    const st = (await px.client.stats()).find((s) => s.id === "spread-1");
    expect(st?.requests).toBe(40);
    expect(st?.statuses["2xx"]).toBe(40);
    // Latency histograms merged bucket-wise: the buckets hold every request.
    expect(st?.latencyBuckets?.reduce((x, [, n]) => x + n, 0)).toBe(40);
    const metrics = await px.client.metrics();
    expect(metrics).toContain("\nslipway_proxy_workers 2\n");
    expect(metrics).toMatch(
      /slipway_proxy_request_duration_seconds_count\{route="t\/dev\/spread",target="spread-1",slot="stable"\} 40/,
    );
  });

  it("switches atomically: once setRoute returns, no worker sends a new request to the old target", async () => {
    const blue = await up("blue");
    const green = await up("green");
    const port = await freePort();
    const key = "t/dev/atomic";
    await px.client.setRoute(route(key, port, [target("blue-1", blue)]));
    // Keep-alive load on both workers while the switch happens.
    const l = load(`http://127.0.0.1:${port}/`, 4);
    await waitFor(() => (l.bodies.get("blue") ?? 0) > 50, { what: "load on blue" });
    await px.client.setRoute(route(key, port, [target("green-1", green)]));
    const bodies: string[] = [];
    for (let i = 0; i < 200; i++) bodies.push((await fresh(port)).body);
    await l.stop();
    expect(bodies.filter((b) => b !== "green")).toEqual([]);
    expect(l.failures).toEqual([]);
    expect(await px.client.waitDrained(["blue-1"], 5_000)).toEqual({ drained: true, inFlight: 0 });
  });

  it("refuses a taken port with the same 409 message, on no worker", async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", r));
    const a = await up("late");
    try {
      await expect(px.client.setRoute(route("t/dev/taken", port, [target("late-1", a)]))).rejects.toThrow(
        `route "t/dev/taken": cannot listen on 127.0.0.1:${port}: EADDRINUSE`,
      );
      expect((await px.client.getRoutes()).some((r) => r.key === "t/dev/taken")).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    await px.client.setRoute(route("t/dev/taken", port, [target("late-1", a)]));
    expect((await fresh(port)).body).toBe("late");
  });

  it("replaces a killed worker with the current routes", async () => {
    const a = await up("survivor");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/kill", port, [target("kill-1", a)]));
    const [victim] = await workers();
    process.kill(victim!.pid, "SIGKILL");
    const now = await waitFor(
      async () => {
        const ws = await workers();
        return ws.length === 2 && !ws.some((w) => w.pid === victim!.pid) ? ws : undefined;
      },
      { what: "a replacement worker" },
    );
    const fresh1 = now.find((w) => w.requests === 0);
    expect(fresh1).toBeDefined();
    for (let i = 0; i < 20; i++) expect((await fresh(port)).body).toBe("survivor");
    // The replacement serves the routes it got from the primary.
    expect((await workers()).every((w) => w.requests > 0)).toBe(true);
  });

  it("kills a worker that stops answering; the route change goes through and a replacement serves it", async () => {
    const before = await up("before-stuck");
    const after = await up("after-stuck");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/stuck", port, [target("stuck-1", before)]));
    const [victim] = await workers();
    process.kill(victim!.pid, "SIGSTOP"); // its event loop serves nobody, as if blocked
    try {
      await px.client.setRoute(route("t/dev/stuck", port, [target("stuck-2", after)]));
      await waitFor(async () => !alive(victim!.pid), { what: "the stuck worker killed" });
      const now = await waitFor(
        async () => {
          const ws = await workers();
          return ws.length === 2 && !ws.some((w) => w.pid === victim!.pid) ? ws : undefined;
        },
        { what: "a replacement worker" },
      );
      expect(now.map((w) => w.pid)).not.toContain(victim!.pid);
      // Every worker, the replacement included, routes to the new target.
      for (let i = 0; i < 20; i++) expect((await fresh(port)).body).toBe("after-stuck");
      expect((await workers()).every((w) => w.requests > 0)).toBe(true);
    } finally {
      try {
        process.kill(victim!.pid, "SIGCONT");
      } catch {
        /* killed, as it should be */
      }
    }
  });

  // Last: it stops the proxy.
  it("SIGTERM drains the requests in flight on the workers, then all processes exit", async () => {
    const a = await up("slow");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/term", port, [target("term-1", a)]));
    const pids = [px.pid(), ...(await workers()).map((w) => w.pid)];
    const slow = Array.from({ length: 4 }, () => fresh(port, "/slow?ms=1000"));
    await waitFor(async () => (await px.client.stats()).find((s) => s.id === "term-1")?.inFlight === 4, {
      what: "4 requests in flight",
    });
    const perWorker = (await workers()).map((w) => w.requests);
    expect(await px.client.stop(10_000)).toBe(true);
    const done = await Promise.all(slow);
    expect(done.map((r) => `${r.status} ${r.body}`)).toEqual(Array(4).fill("200 slow"));
    expect(perWorker).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
  });
});
