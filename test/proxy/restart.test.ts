import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.js";
import { ProxyClient } from "../../src/proxy/client.js";
import { proxyPaths } from "../../src/proxy/paths.js";
import { freePort, waitFor } from "../support/ports.js";
import { alive, get, proxySuite, route, target } from "./helpers.js";

const { px, up } = proxySuite();

describe("proxy process", () => {
  it("restores the routing table from its snapshot after kill -9", async () => {
    const a = await up("a");
    const b = await up("b");
    const p1 = await freePort();
    const p2 = await freePort();
    await px.client.setRoute(route("t/dev/one", p1, [target("a-1", a)]));
    await px.client.setRoute(
      route("t/dev/two", p2, [target("a-2", a), target("b-1", b, "candidate")], {
        candidateWeight: 50,
        sticky: true,
      }),
    );
    const snap = JSON.parse(await readFile(proxyPaths(px.home).snapshot, "utf8")) as { routes: unknown[] };
    expect(snap.routes).toHaveLength(2);
    const before = await px.client.getRoutes();

    const pid = px.pid();
    process.kill(pid, "SIGKILL");
    await waitFor(() => !alive(pid), { what: "proxy gone" });
    await expect(get(`http://127.0.0.1:${p1}/`)).rejects.toThrow(/ECONNREFUSED/);
    expect(await px.client.health()).toBeUndefined();

    await px.client.ensureRunning();
    expect(px.pid()).not.toBe(pid);
    expect(await px.client.getRoutes()).toEqual(before);
    expect((await get(`http://127.0.0.1:${p1}/`)).body).toBe("a");
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await get(`http://127.0.0.1:${p2}/`)).body);
    expect([...bodies].sort()).toEqual(["a", "b"]);
  });

  it("starts only one proxy when several clients ensure it concurrently", async () => {
    const pid = px.pid();
    process.kill(pid, "SIGKILL");
    await waitFor(() => !alive(pid), { what: "proxy gone" });
    const clients = Array.from({ length: 4 }, () => new ProxyClient({ home: px.home }));
    await Promise.all(clients.map((c) => c.ensureRunning()));
    const pids = await Promise.all(clients.map(async (c) => (await c.health())?.pid));
    expect(new Set(pids).size).toBe(1);
    expect(pids[0]).toBe(px.pid());
  });

  it("says once that a running proxy keeps its worker count when a client asks for another", async () => {
    const warned: (Record<string, unknown> | undefined)[] = [];
    const logger = {
      ...silentLogger,
      warn: (_m: string, f?: Record<string, unknown>) => void warned.push(f),
    };
    const two = new ProxyClient({ home: px.home, workers: 2, logger });
    await two.ensureRunning();
    await two.ensureRunning();
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ running: 1, asked: 2 });
    expect(String(warned[0]?.apply)).toContain(`kill -TERM ${px.pid()}`);
    expect((await two.health())?.workers).toBeUndefined(); // still the one process it was
    await new ProxyClient({ home: px.home, workers: 1, logger }).ensureRunning();
    expect(warned).toHaveLength(1);
  });

  it("on SIGTERM finishes requests in flight, then exits", async () => {
    const slow = await up("slow");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/term", port, [target("slow-1", slow)]));
    const pending = get(`http://127.0.0.1:${port}/slow?ms=1000`);
    await waitFor(async () => (await px.client.stats()).find((s) => s.id === "slow-1")?.inFlight === 1, {
      what: "request in flight",
    });
    const pid = px.pid();
    const stopped = px.client.stop(10_000);
    const r = await pending;
    expect(`${r.status} ${r.body}`).toBe("200 slow");
    expect(await stopped).toBe(true);
    expect(alive(pid)).toBe(false);
    await expect(readFile(proxyPaths(px.home).pid, "utf8")).rejects.toThrow(/ENOENT/);
  });
});
