/**
 * Through the real proxy process: upstream keep-alive pools reuse connections, and sticky-cookie
 * assignment of new clients follows the candidate weight.
 */
import { Agent } from "node:http";
import { describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { get, proxySuite, route, stickyCookie, target } from "./helpers.js";

const { px, up } = proxySuite();

/** `n` requests, `concurrency` at a time. */
async function burst(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

describe("proxy pools and sticky weights", () => {
  it("reuses upstream connections: 500 requests over far fewer connections", async () => {
    const u = await up("pooled");
    let connections = 0;
    u.server.on("connection", () => connections++);
    const port = await freePort();
    await px.client.setRoute(route("t/dev/pool", port, [target("p1", u)]));
    // The client side opens a fresh connection per request: only the proxy's pool can reuse.
    await burst(500, 10, async () => {
      const r = await get(`http://127.0.0.1:${port}/`, { agent: new Agent({ keepAlive: false }) });
      expect(r.status).toBe(200);
    });
    expect(u.hits).toBe(500);
    // At most one connection per concurrent request, plus slack for sockets the upstream closed.
    expect(connections).toBeGreaterThan(0);
    expect(connections).toBeLessThanOrEqual(25);
  });

  it("assigns ≈ 10 % of 1,000 cookie-less clients to the candidate at weight 10, and they stay", async () => {
    const s = await up("stable");
    const c = await up("candidate");
    const key = "t/dev/sticky-weight";
    const port = await freePort();
    await px.client.setRoute(
      route(key, port, [target("s1", s), target("c1", c, "candidate")], {
        candidateWeight: 10,
        sticky: true,
      }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    const cookies: string[] = [];
    let mismatched = 0;
    await burst(1_000, 10, async () => {
      const r = await get(`http://127.0.0.1:${port}/`, { agent });
      const set = ([] as string[]).concat(r.headers["set-cookie"] ?? []);
      const cookie = set.find((h) => h.startsWith(`${stickyCookie(key)}=`))?.split(";")[0];
      expect(cookie, "every new client gets the slot cookie").toBeDefined();
      if (cookie !== `${stickyCookie(key)}=${r.body}`) mismatched++;
      cookies.push(cookie!);
    });
    expect(mismatched).toBe(0);
    const onCandidate = cookies.filter((k) => k.endsWith("=candidate")).length;
    // ±3 points around 10 %: the tolerance for the unsticky split.
    expect(onCandidate).toBeGreaterThanOrEqual(70);
    expect(onCandidate).toBeLessThanOrEqual(130);

    // Returning clients stay where they were assigned, whatever the weight says.
    const sample = [...cookies.filter((k) => k.endsWith("=candidate")).slice(0, 20), ...cookies.slice(0, 20)];
    for (const cookie of sample) {
      const r = await get(`http://127.0.0.1:${port}/`, { agent, headers: { cookie } });
      expect(cookie).toBe(`${stickyCookie(key)}=${r.body}`);
    }
    agent.destroy();
  });
});
