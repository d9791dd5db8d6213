import { stat } from "node:fs/promises";
import { Agent } from "node:http";
import { describe, expect, it } from "vitest";
import { proxyPaths } from "../../src/proxy/paths.js";
import { freePort } from "../support/ports.js";
import { get, proxySuite, route, stickyCookie, target } from "./helpers.js";

const { px, up } = proxySuite();

describe("proxy routing", () => {
  it("keeps its control socket private (0600)", async () => {
    const st = await stat(proxyPaths(px.home).socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("answers 503 with a clear page when a route has no target", async () => {
    const port = await freePort();
    await px.client.setRoute(route("t/dev/empty", port, []));
    const r = await get(`http://127.0.0.1:${port}/`);
    expect(r.status).toBe(503);
    expect(r.body).toContain("No healthy instance");
    const html = await get(`http://127.0.0.1:${port}/`, { headers: { accept: "text/html" } });
    expect(html.headers["content-type"]).toContain("text/html");
    expect(html.body).toContain("<h1>503 Service Unavailable</h1>");
  });

  it("passes X-Forwarded-For/-Proto/-Host and the original Host", async () => {
    const a = await up("a");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/fwd", port, [target("a1", a)]));
    const r = await get(`http://127.0.0.1:${port}/headers`, {
      headers: { host: "app.example.com", "x-forwarded-for": "10.0.0.9" },
    });
    expect(r.status).toBe(200);
    const h = JSON.parse(r.body) as Record<string, string>;
    expect(h["x-forwarded-for"]).toBe("10.0.0.9, 127.0.0.1");
    expect(h["x-forwarded-proto"]).toBe("http");
    expect(h["x-forwarded-host"]).toBe("app.example.com");
    expect(h.host).toBe("app.example.com");
  });

  it("answers 504 when the upstream does not answer within responseTimeoutMs", async () => {
    const a = await up("slowpoke");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/timeout", port, [target("s1", a)], { responseTimeoutMs: 300 }));
    const r = await get(`http://127.0.0.1:${port}/slow?ms=3000`);
    expect(r.status).toBe(504);
    expect(r.body).toContain("did not answer in time");
    const s = (await px.client.stats()).find((x) => x.id === "s1");
    expect(s?.statuses.error).toBe(1);
  });

  it("streams request and response bodies both ways", async () => {
    const a = await up("echo");
    const port = await freePort();
    await px.client.setRoute(route("t/dev/echo", port, [target("e1", a)]));
    const body = Buffer.alloc(3 * 1024 * 1024, "slipway-");
    const r = await get(`http://127.0.0.1:${port}/echo`, { method: "POST", body });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length);
    expect(r.body === body.toString("utf8")).toBe(true);
  });

  it("splits 10/90 between candidate and stable within ±3 % over 2,000 requests", async () => {
    const s = await up("stable");
    const c = await up("candidate");
    const port = await freePort();
    await px.client.setRoute(
      route("t/dev/split", port, [target("st", s), target("ca", c, "candidate")], { candidateWeight: 10 }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const counts: Record<string, number> = {};
    for (let batch = 0; batch < 100; batch++) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, () => get(`http://127.0.0.1:${port}/`, { agent })),
      );
      for (const r of rs) counts[r.body] = (counts[r.body] ?? 0) + 1;
    }
    agent.destroy();
    expect(counts.stable + counts.candidate).toBe(2000);
    expect(Math.abs(counts.candidate / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
    const stats = await px.client.stats();
    expect(stats.find((x) => x.id === "ca")?.requests).toBe(counts.candidate);
  });

  it("never sends a request to a candidate with weight 0", async () => {
    const s = await up("stable0");
    const c = await up("candidate0");
    const port = await freePort();
    await px.client.setRoute(
      route("t/dev/zero", port, [target("s0", s), target("c0", c, "candidate")], { sticky: true }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    for (let i = 0; i < 20; i++)
      await Promise.all(
        Array.from({ length: 10 }, () =>
          get(`http://127.0.0.1:${port}/`, {
            agent,
            headers: { cookie: `${stickyCookie("t/dev/zero")}=candidate` },
          }),
        ),
      );
    agent.destroy();
    expect(s.hits).toBe(200);
    expect(c.hits).toBe(0);
  });

  it("keeps a client on its slot with a sticky cookie", async () => {
    const s = await up("s-sticky");
    const c = await up("c-sticky");
    const port = await freePort();
    await px.client.setRoute(
      route("t/dev/sticky", port, [target("ss", s), target("cs", c, "candidate")], {
        candidateWeight: 50,
        sticky: true,
      }),
    );
    const first = await get(`http://127.0.0.1:${port}/`);
    const setCookie = first.headers["set-cookie"]?.[0] ?? "";
    expect(setCookie).toMatch(new RegExp(`^${stickyCookie("t/dev/sticky")}=(stable|candidate);`));
    const cookie = setCookie.split(";")[0];
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++)
      seen.add((await get(`http://127.0.0.1:${port}/`, { headers: { cookie } })).body);
    expect([...seen]).toEqual([first.body]);
  });

  it("retries a refused connection on another target and ejects the dead one", async () => {
    const a = await up("alive");
    const deadPort = await freePort();
    const port = await freePort();
    await px.client.setRoute(
      route("t/dev/retry", port, [target("dead", `http://127.0.0.1:${deadPort}`), target("alive", a)]),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const rs = await Promise.all(
      Array.from({ length: 100 }, () => get(`http://127.0.0.1:${port}/`, { agent })),
    );
    agent.destroy();
    expect(rs.filter((r) => r.status !== 200)).toEqual([]);
    const dead = (await px.client.stats()).find((x) => x.id === "dead");
    expect(dead?.ejected).toBe(true);
    expect(dead?.statuses.error).toBeGreaterThan(0);
  });

  it("answers 502 when no target can be reached", async () => {
    const port = await freePort();
    const deadPort = await freePort();
    await px.client.setRoute(route("t/dev/dead", port, [target("gone", `http://127.0.0.1:${deadPort}`)]));
    const r = await get(`http://127.0.0.1:${port}/`);
    expect(r.status).toBe(502);
  });

  it("rejects invalid routes and listen conflicts with clear messages", async () => {
    const bad = route("t/dev/bad", 0, [{ id: "x", slot: "stable", url: "ftp://nope" }]);
    await expect(px.client.setRoute(bad)).rejects.toThrow(
      /invalid route "t\/dev\/bad": listen.port: .*targets.0.url: must be an http/,
    );
    const port = await freePort();
    await px.client.setRoute(route("t/dev/one", port, []));
    await expect(px.client.setRoute(route("t/dev/two", port, []))).rejects.toThrow(
      /already served by route "t\/dev\/one"/,
    );
  });

  it("moves a route to a new port and exposes Prometheus metrics", async () => {
    const a = await up("mover");
    const p1 = await freePort();
    const p2 = await freePort();
    await px.client.setRoute(route("t/dev/move", p1, [target("m1", a)]));
    expect((await get(`http://127.0.0.1:${p1}/`)).body).toBe("mover");
    await px.client.setRoute(route("t/dev/move", p2, [target("m1", a)]));
    expect((await get(`http://127.0.0.1:${p2}/`)).body).toBe("mover");
    await expect(get(`http://127.0.0.1:${p1}/`)).rejects.toThrow(/ECONNREFUSED/);
    const text = await px.client.metrics();
    expect(text).toContain(
      'slipway_proxy_requests_total{route="t/dev/move",target="m1",slot="stable",class="2xx"} 2',
    );
    await px.client.removeRoute("t/dev/move");
    expect((await px.client.getRoutes()).some((r) => r.key === "t/dev/move")).toBe(false);
  });
});
