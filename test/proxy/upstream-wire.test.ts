/**
 * The proxy's own HTTP/1.1 client to upstreams (src/proxy/upstream.ts) on the wire: request
 * bodies of unknown length, HEAD, interim 1xx answers, bodies delimited by the connection's end,
 * and keep-alive connections the upstream closes between requests. Real sockets both sides.
 */
import { createServer as createNetServer } from "node:net";
import type { Server as NetServer, Socket } from "node:net";
import { Agent, createServer, request } from "node:http";
import type { Server } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { get, proxySuite, route, startUpstream } from "./helpers.js";

const { px } = proxySuite();
const closers: (() => unknown)[] = [];
const stop = (srv: Server) => () =>
  new Promise((r) => {
    srv.close(r);
    srv.closeAllConnections();
  });
afterAll(async () => {
  for (const c of closers) await c();
});

/** An upstream speaking raw bytes: answers every request head with `reply`, then maybe closes. */
async function rawUpstream(reply: string, close: boolean): Promise<string> {
  const port = await freePort();
  const socks = new Set<Socket>();
  const srv: NetServer = createNetServer((s) => {
    socks.add(s);
    let seen = "";
    s.on("data", (d) => {
      seen += d.toString("latin1");
      if (!seen.includes("\r\n\r\n")) return;
      seen = "";
      if (close) s.end(reply);
      else s.write(reply);
    });
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  closers.push(() => {
    for (const s of socks) s.destroy();
    return new Promise((r) => srv.close(r));
  });
  return `http://127.0.0.1:${port}`;
}

async function via(key: string, url: string): Promise<number> {
  const port = await freePort();
  await px.client.setRoute(route(key, port, [{ id: key, slot: "stable", url }]));
  return port;
}

describe("the proxy's upstream client on the wire", () => {
  it("sends a chunked request body upstream chunked, intact", async () => {
    const up = await startUpstream("echo");
    closers.push(() => up.close());
    const port = await via("w/dev/chunked", up.url);
    const got = await new Promise<{ body: string; te: string | undefined }>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${port}/echo`, { method: "POST" }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ body, te: res.headers["transfer-encoding"] }));
      });
      req.on("error", reject);
      for (let i = 0; i < 50; i++) req.write(`part-${i};`);
      req.end();
    });
    expect(got.body).toBe(Array.from({ length: 50 }, (_, i) => `part-${i};`).join(""));
    expect(got.te).toBe("chunked");
  });

  it("answers HEAD with the upstream's headers and no body, and the connection stays usable", async () => {
    const srv = createServer((req, res) => {
      res.writeHead(200, { "content-length": 11, "x-kind": req.method });
      res.end(req.method === "HEAD" ? undefined : "hello world");
    });
    const upPort = await freePort();
    await new Promise<void>((r) => srv.listen(upPort, "127.0.0.1", r));
    closers.push(stop(srv));
    const port = await via("w/dev/head", `http://127.0.0.1:${upPort}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const head = await get(`http://127.0.0.1:${port}/`, { method: "HEAD", agent });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("11");
    expect(head.headers["x-kind"]).toBe("HEAD");
    expect(head.body).toBe("");
    const after = await get(`http://127.0.0.1:${port}/`, { agent });
    expect(after.body).toBe("hello world");
    agent.destroy();
  });

  it("skips interim 1xx answers and forwards the final one", async () => {
    const url = await rawUpstream(
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
        "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone",
      false,
    );
    const r = await get(`http://127.0.0.1:${await via("w/dev/info", url)}/`);
    expect(r.status).toBe(201);
    expect(r.body).toBe("done");
  });

  it("forwards a body delimited by the upstream closing the connection", async () => {
    const url = await rawUpstream("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true);
    const port = await via("w/dev/eof", url);
    for (let i = 0; i < 3; i++) {
      const r = await get(`http://127.0.0.1:${port}/`);
      expect(r.status).toBe(200);
      expect(r.body).toBe("until the end");
    }
  });

  it("loses no request when the upstream closes idle keep-alive connections", async () => {
    const srv = createServer((_req, res) => res.end("ok"));
    srv.keepAliveTimeout = 30;
    const upPort = await freePort();
    await new Promise<void>((r) => srv.listen(upPort, "127.0.0.1", r));
    closers.push(stop(srv));
    const port = await via("w/dev/stale", `http://127.0.0.1:${upPort}`);
    const statuses: number[] = [];
    for (let round = 0; round < 6; round++) {
      const rs = await Promise.all(Array.from({ length: 8 }, () => get(`http://127.0.0.1:${port}/`)));
      statuses.push(...rs.map((r) => r.status));
      await new Promise((r) => setTimeout(r, 25 + round * 5));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});
