import { afterAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { freePort, waitFor } from "../support/ports.js";
import { proxySuite, route, target } from "./helpers.js";

const { px, up } = proxySuite();
const wss: WebSocketServer[] = [];

/** An upstream with an echo WebSocket server that remembers the close codes it received. */
async function wsUpstream(name: string) {
  const u = await up(name);
  const closes: number[] = [];
  const server = new WebSocketServer({ server: u.server });
  wss.push(server);
  server.on("connection", (ws) => {
    ws.send(`hello from ${name}`);
    ws.on("message", (m, binary) => ws.send(binary ? m : `${name}:${m.toString()}`, { binary }));
    ws.on("close", (code) => closes.push(code));
  });
  return { ...u, url: u.url, closes };
}

function open(port: number): Promise<{ ws: WebSocket; messages: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`);
  const messages: string[] = [];
  const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
  return new Promise((resolve, reject) => {
    ws.on("message", (m) => messages.push(m.toString()));
    ws.on("open", () => resolve({ ws, messages, closed }));
    ws.on("error", reject);
  });
}

async function roundTrip(c: { ws: WebSocket; messages: string[] }, text: string): Promise<string> {
  const n = c.messages.length;
  c.ws.send(text);
  await waitFor(() => c.messages.length > n, { what: `echo of ${text}`, timeoutMs: 5_000 });
  return c.messages[n];
}

afterAll(() => {
  for (const s of wss) s.close();
});

describe("WebSocket pass-through", () => {
  it("survives a change of another route and is closed with 1001 when its own target drains", async () => {
    const a = await wsUpstream("a");
    const a2 = await wsUpstream("a2");
    const b = await wsUpstream("b");
    const b2 = await wsUpstream("b2");
    const p1 = await freePort();
    const p2 = await freePort();
    const p3 = await freePort();
    await px.client.setRoute(route("t/dev/ws-one", p1, [target("a-1", a)]));
    await px.client.setRoute(route("t/dev/ws-two", p2, [target("b-1", b)]));

    const c = await open(p1);
    await waitFor(() => c.messages.length === 1, { what: "greeting" });
    expect(c.messages[0]).toBe("hello from a");
    expect(await roundTrip(c, "ping")).toBe("a:ping");

    // Redeploy and move the OTHER route: this connection must not notice.
    await px.client.setRoute(route("t/dev/ws-two", p3, [target("b-2", b2)]));
    await px.client.waitDrained(["b-1"], 5_000);
    expect(await roundTrip(c, "still-there")).toBe("a:still-there");
    // A large binary message crosses intact (frames with 64-bit lengths).
    const big = Buffer.alloc(300_000, 7);
    const n = c.messages.length;
    c.ws.send(big, { binary: true });
    await waitFor(() => c.messages.length > n, { what: "big echo" });
    expect(c.messages[n].length).toBe(big.length);
    const stats = (await px.client.stats()).find((s) => s.id === "a-1");
    expect(stats?.websockets).toBe(1);

    // Redeploy its own route: the old target drains, the socket gets a clean 1001 both ways.
    await px.client.setRoute(route("t/dev/ws-one", p1, [target("a-2", a2)]));
    expect(await c.closed).toBe(1001);
    await waitFor(() => a.closes.length === 1, { what: "upstream saw the close" });
    expect(a.closes).toEqual([1001]);

    // New connections reach the new target.
    const d = await open(p1);
    await waitFor(() => d.messages.length === 1, { what: "greeting from a2" });
    expect(d.messages[0]).toBe("hello from a2");
    d.ws.close();
  });

  it("refuses an upgrade with 503 when the route has no target", async () => {
    const port = await freePort();
    await px.client.setRoute(route("t/dev/ws-none", port, []));
    const err = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on("error", resolve);
    });
    expect(err.message).toContain("503");
  });
});
