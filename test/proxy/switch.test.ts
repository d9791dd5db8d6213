import { describe, expect, it } from "vitest";
import { sleep } from "../../src/util/sleep.js";
import { freePort, waitFor } from "../support/ports.js";
import { get, load, proxySuite, route, target } from "./helpers.js";

const { px, up } = proxySuite();

describe("switching targets", () => {
  it("switches stable → new → back under continuous load with zero failed requests", async () => {
    const blue = await up("blue");
    const green = await up("green");
    const port = await freePort();
    const key = "t/dev/switch";
    await px.client.setRoute(route(key, port, [target("blue-1", blue)]));
    const l = load(`http://127.0.0.1:${port}/`, 8);
    await waitFor(() => (l.bodies.get("blue") ?? 0) > 200, { what: "load on blue" });

    // Deploy: green takes over, blue drains and is stopped for real.
    await px.client.setRoute(route(key, port, [target("green-1", green)]));
    expect(await px.client.waitDrained(["blue-1"], 5_000)).toEqual({ drained: true, inFlight: 0 });
    await blue.close();
    const greenBefore = l.bodies.get("green") ?? 0;
    await waitFor(() => (l.bodies.get("green") ?? 0) > greenBefore + 200, { what: "load on green" });

    // Rollback to a restarted blue on a new port, while green is stopped right away.
    const blue2 = await up("blue2");
    await px.client.setRoute(route(key, port, [target("blue-2", blue2)]));
    await green.close();
    await waitFor(() => (l.bodies.get("blue2") ?? 0) > 200, { what: "load on blue2" });
    await l.stop();

    expect(l.failures).toEqual([]);
    expect(l.total()).toBeGreaterThan(600);
    expect(l.bodies.get("green")).toBeGreaterThan(0);
  });

  it("a target listed but already dead costs no request (retried on the live one)", async () => {
    const live = await up("live");
    const dying = await up("dying");
    const port = await freePort();
    const key = "t/dev/dying";
    await px.client.setRoute(route(key, port, [target("dying-1", dying), target("live-1", live)]));
    const l = load(`http://127.0.0.1:${port}/`, 8);
    await waitFor(() => (l.bodies.get("dying") ?? 0) > 100, { what: "load on dying" });
    // The instance dies without the route being told: passive health and retries cover it.
    await dying.close();
    const before = l.bodies.get("live") ?? 0;
    await waitFor(() => (l.bodies.get("live") ?? 0) > before + 300, { what: "load on live" });
    await l.stop();
    expect(l.failures).toEqual([]);
    const st = (await px.client.stats()).find((s) => s.id === "dying-1");
    expect(st?.ejected).toBe(true);
  });

  it("lets long requests in flight finish during the drain while new ones go to the new target", async () => {
    const oldUp = await up("old");
    const newUp = await up("new");
    const port = await freePort();
    const key = "t/dev/drain";
    await px.client.setRoute(route(key, port, [target("old-1", oldUp)], { drainTimeoutMs: 10_000 }));
    const slow = Array.from({ length: 3 }, () => get(`http://127.0.0.1:${port}/slow?ms=1500`));
    await waitFor(async () => (await px.client.stats()).find((s) => s.id === "old-1")?.inFlight === 3, {
      what: "3 requests in flight",
    });
    await px.client.setRoute(route(key, port, [target("new-1", newUp)], { drainTimeoutMs: 10_000 }));
    expect((await get(`http://127.0.0.1:${port}/`)).body).toBe("new");
    const draining = (await px.client.stats()).find((s) => s.id === "old-1");
    expect(draining).toMatchObject({ draining: true, inFlight: 3 });
    expect(await px.client.waitDrained(["old-1"], 100)).toEqual({ drained: false, inFlight: 3 });
    expect(await px.client.waitDrained(["old-1"], 10_000)).toEqual({ drained: true, inFlight: 0 });
    const done = await Promise.all(slow);
    expect(done.map((r) => `${r.status} ${r.body}`)).toEqual(["200 old", "200 old", "200 old"]);
    expect(oldUp.hits).toBe(3);
    // Drained targets are forgotten.
    await waitFor(async () => !(await px.client.stats()).some((s) => s.id === "old-1"), {
      what: "old-1 forgotten",
    });
  });

  it("cuts requests still running when the drain timeout ends", async () => {
    const oldUp = await up("old-cut");
    const newUp = await up("new-cut");
    const port = await freePort();
    const key = "t/dev/cut";
    await px.client.setRoute(route(key, port, [target("cut-1", oldUp)], { drainTimeoutMs: 300 }));
    const slow = get(`http://127.0.0.1:${port}/slow?ms=20000`).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => e.message,
    );
    await waitFor(async () => (await px.client.stats()).find((s) => s.id === "cut-1")?.inFlight === 1, {
      what: "request in flight",
    });
    await px.client.setRoute(route(key, port, [target("new-cut-1", newUp)], { drainTimeoutMs: 300 }));
    await sleep(50);
    expect(await slow).toMatch(/HTTP 502|socket hang up|ECONNRESET/);
    expect(await px.client.waitDrained(["cut-1"], 1_000)).toEqual({ drained: true, inFlight: 0 });
  });
});
