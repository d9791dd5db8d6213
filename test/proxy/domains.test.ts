/**
 * Host routing on shared listeners, through a real proxy process: plain HTTP by Host header,
 * HTTPS by SNI with certificates from files (made by a throw-away openssl CA), HTTP/2 by ALPN,
 * redirects, HSTS, certificate reload without dropping connections, PROXY protocol.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect as h2connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer, type ClientOptions } from "ws";
import type { Route, RouteEdge } from "../../src/proxy/contract.js";
import { freePort, waitFor } from "../support/ports.js";
import { makeTestCa } from "../support/test-ca.js";
import { get, proxySuite, route, target, type Reply } from "./helpers.js";

process.env.SLIPWAY_PROXY_CERT_POLL_MS = "200"; // read by the proxy process the suite spawns
const { px, up } = proxySuite();
const dir = mkdtempSync(join(tmpdir(), "slipway-domains-"));
const ca = makeTestCa(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const edge = (over: Partial<RouteEdge>): RouteEdge => ({
  domains: [],
  redirectHttp: false,
  hstsSeconds: 0,
  proxyProtocol: false,
  ...over,
});
const at = (port: number) => ({ host: "127.0.0.1", port });
async function hostRoute(key: string, targets: Route["targets"], e: Partial<RouteEdge>): Promise<Route> {
  const r = route(key, await freePort(), targets, { edge: edge(e) });
  await px.client.setRoute(r);
  return r;
}

function httpsGet(
  port: number,
  name: string,
  path: string,
  agent?: HttpsAgent,
): Promise<Reply & { fp: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port, path, servername: name, headers: { host: name }, ca: ca.pem, agent },
      (res) => {
        const sock = res.socket as TLSSocket;
        const fp = sock.getPeerX509Certificate()?.fingerprint256 ?? "";
        const localPort = sock.localPort ?? 0;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
            fp,
            localPort,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("domains on shared listeners", () => {
  it("routes by Host on one shared HTTP listener, 404s unknown hosts, keeps the plain port", async () => {
    const a = await up("app-a");
    const b = await up("app-b");
    const http = await freePort();
    const ra = await hostRoute("p1/prod/a", [target("a1", a)], {
      domains: ["a.test", "www.a.test"],
      http: at(http),
    });
    await hostRoute("p2/prod/b", [target("b1", b)], { domains: ["b.test"], http: at(http) });
    const base = `http://127.0.0.1:${http}/`;
    expect((await get(base, { headers: { host: "a.test" } })).body).toBe("app-a");
    expect((await get(base, { headers: { host: "WWW.A.test:8080" } })).body).toBe("app-a");
    expect((await get(base, { headers: { host: "b.test" } })).body).toBe("app-b");
    const unknown = await get(base, { headers: { host: "nobody.test" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain("No service is configured for this host name");
    expect(unknown.body).toContain("nobody.test");
    expect((await get(`http://127.0.0.1:${ra.listen.port}/`)).body).toBe("app-a");
  });

  it("frees a removed route's domains and closes a listener its last route left", async () => {
    const a = await up("gone");
    const http = await freePort();
    await hostRoute("p1/prod/gone", [target("g1", a)], { domains: ["gone.test"], http: at(http) });
    const keep = await hostRoute("p1/prod/kept", [target("k1", a)], {
      domains: ["kept.test"],
      http: at(http),
    });
    await px.client.removeRoute("p1/prod/gone");
    const base = `http://127.0.0.1:${http}/`;
    expect((await get(base, { headers: { host: "gone.test" } })).status).toBe(404);
    expect((await get(base, { headers: { host: "kept.test" } })).body).toBe("gone");
    // The same route without domains: off the shared listener, which then closes.
    await px.client.setRoute({ ...keep, edge: undefined });
    await waitFor(
      () =>
        get(base, { headers: { host: "kept.test" } }).then(
          () => false,
          () => true,
        ),
      {
        what: "the shared listener to close",
        timeoutMs: 5_000,
      },
    );
    expect((await get(`http://127.0.0.1:${keep.listen.port}/`)).body).toBe("gone");
  });

  it("refuses a domain another route already has on that listener, naming it", async () => {
    const c = await up("app-c");
    const http = await freePort();
    await hostRoute("p1/prod/c", [target("c1", c)], { domains: ["c.test"], http: at(http) });
    const clash = route("p3/staging/c", await freePort(), [target("c2", c)], {
      edge: edge({ domains: ["c.test"], http: at(http) }),
    });
    await expect(px.client.setRoute(clash)).rejects.toThrow(
      /domain c\.test is already routed on 127\.0\.0\.1:\d+ by route "p1\/prod\/c"/,
    );
    // Nothing of the refused route was applied.
    expect((await px.client.getRoutes()).some((r) => r.key === "p3/staging/c")).toBe(false);
    // The same domain on another listener is fine.
    await px.client.setRoute({ ...clash, edge: edge({ domains: ["c.test"], http: at(await freePort()) }) });
  });

  it("serves HTTPS by SNI with file certificates, HTTP/2 by ALPN, redirects HTTP and sends HSTS", async () => {
    const a = await up("tls-a");
    const b = await up("tls-b");
    const [http, https] = [await freePort(), await freePort()];
    const ca1 = ca.issue("one", ["one.test"]);
    const ca2 = ca.issue("two", ["two.test", "www.two.test"]);
    const common = { http: at(http), https: at(https), redirectHttp: true, hstsSeconds: 31536000 };
    await hostRoute("p/prod/one", [target("o1", a)], { ...common, domains: ["one.test"], tls: ca1 });
    await hostRoute("p/prod/two", [target("t1", b)], {
      ...common,
      domains: ["two.test", "www.two.test"],
      tls: ca2,
    });
    const one = await httpsGet(https, "one.test", "/headers");
    const seen = JSON.parse(one.body) as Record<string, string>;
    expect(seen["x-forwarded-proto"]).toBe("https");
    expect(seen["x-forwarded-host"]).toBe("one.test");
    expect(one.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect((await httpsGet(https, "www.two.test", "/")).body).toBe("tls-b");
    const redirect = await get(`http://127.0.0.1:${http}/x?y=1`, { headers: { host: "two.test" } });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://two.test:${https}/x?y=1`);
    // HTTP/2 negotiated by ALPN; the upstream still gets HTTP/1.1 with a Host.
    const session = h2connect(`https://127.0.0.1:${https}`, { ca: ca.pem, servername: "one.test" });
    const h2 = await new Promise<{ status: number; body: string; proto: string }>((resolve, reject) => {
      const s = session.request({ ":path": "/headers", ":authority": "one.test" });
      let body = "";
      let status = 0;
      s.on("response", (h) => (status = Number(h[":status"])));
      s.setEncoding("utf8");
      s.on("data", (d: string) => (body += d));
      s.on("end", () => resolve({ status, body, proto: session.alpnProtocol ?? "" }));
      s.on("error", reject);
      s.end();
    });
    session.close();
    expect(h2.proto).toBe("h2");
    expect(h2.status).toBe(200);
    expect((JSON.parse(h2.body) as Record<string, string>).host).toBe("one.test");
    // An unknown SNI name gets one of the listener's certificates: the client sees the mismatch.
    await expect(httpsGet(https, "nobody.test", "/")).rejects.toThrow();
    const stats = (await px.client.stats()).find((s) => s.id === "o1");
    expect(stats?.statuses["2xx"]).toBe(2);
  });

  it("re-reads changed certificate files without dropping open connections", async () => {
    const a = await up("reload");
    const https = await freePort();
    const files = ca.issue("live", ["live.test"]);
    await hostRoute("p/prod/live", [target("l1", a)], {
      domains: ["live.test"],
      https: at(https),
      tls: files,
    });
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    const before = await httpsGet(https, "live.test", "/", agent);
    const next = ca.issue("live2", ["live.test"]);
    copyFileSync(next.key, files.key);
    copyFileSync(next.cert, files.cert);
    await waitFor(async () => (await httpsGet(https, "live.test", "/")).fp !== before.fp, {
      what: "the new certificate",
      timeoutMs: 10_000,
    });
    // The kept-alive connection from before still answers (same client port: not reconnected).
    const again = await httpsGet(https, "live.test", "/", agent);
    expect(again.body).toBe("reload");
    expect(again.localPort).toBe(before.localPort);
    agent.destroy();
  });

  it("passes WebSockets through the HTTPS listener", async () => {
    const u = await up("ws");
    const wss = new WebSocketServer({ server: u.server });
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(`echo:${m.toString()}`)));
    const https = await freePort();
    await hostRoute("p/prod/ws", [target("w1", u)], {
      domains: ["ws.test"],
      https: at(https),
      tls: ca.issue("ws", ["ws.test"]),
    });
    // ws hands TLS options to tls.connect; its types only list the common ones.
    const tlsOpts = { ca: ca.pem, servername: "ws.test", headers: { host: "ws.test" } };
    const ws = new WebSocket(`wss://127.0.0.1:${https}/sock`, tlsOpts as ClientOptions);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on("open", () => ws.send("hi"));
      ws.on("message", (m) => resolve(m.toString()));
      ws.on("error", reject);
    });
    expect(reply).toBe("echo:hi");
    ws.close();
    wss.close();
  });

  it("takes the client address from a PROXY protocol header when the listener asks for one", async () => {
    const a = await up("pp");
    const http = await freePort();
    await hostRoute("p/prod/pp", [target("pp1", a)], {
      domains: ["pp.test"],
      http: at(http),
      proxyProtocol: true,
    });
    const raw = (payload: string) =>
      new Promise<string>((resolve) => {
        const s = netConnect(http, "127.0.0.1", () => s.write(payload));
        let text = "";
        s.on("data", (d) => (text += d.toString()));
        s.on("close", () => resolve(text));
      });
    const answer = await raw(
      "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\nGET /headers HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n",
    );
    expect(answer).toContain("200 OK");
    expect(answer).toContain('"x-forwarded-for":"203.0.113.7"');
    // Without the header the connection is refused: nobody can forge an address.
    expect(await raw("GET / HTTP/1.1\r\nHost: pp.test\r\n\r\n")).toBe("");

    // HTTPS behind the same kind of balancer: the header comes before the TLS handshake (in the
    // same packet as the ClientHello), and HTTP/1.1 over TLS still sees the address.
    const https = await freePort();
    await hostRoute("p/prod/pps", [target("pps1", a)], {
      domains: ["pps.test"],
      https: at(https),
      tls: ca.issue("pps", ["pps.test"]),
      proxyProtocol: true,
    });
    const tlsAnswer = await new Promise<string>((resolve, reject) => {
      const s = netConnect(https, "127.0.0.1", () => {
        // The header and the ClientHello in one packet, as a balancer forwarding at once sends them.
        s.cork();
        s.write("PROXY TCP4 198.51.100.9 10.0.0.1 51234 443\r\n");
        const t = tlsConnect(
          { socket: s, servername: "pps.test", ca: ca.pem, ALPNProtocols: ["http/1.1"] },
          () => t.write("GET /headers HTTP/1.1\r\nHost: pps.test\r\nConnection: close\r\n\r\n"),
        );
        process.nextTick(() => s.uncork());
        let text = "";
        t.on("data", (d: Buffer) => (text += d.toString()));
        t.on("error", reject);
        t.setTimeout(10_000, () => t.destroy(new Error("no TLS answer within 10 s")));
        t.on("close", () => resolve(text));
      });
    });
    expect(tlsAnswer).toContain("200 OK");
    expect(tlsAnswer).toContain('"x-forwarded-for":"198.51.100.9"');
    expect(tlsAnswer).toContain('"x-forwarded-proto":"https"');
  });
});
