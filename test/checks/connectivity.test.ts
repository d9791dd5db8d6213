import { createServer, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runChecks } from "../../src/checks/runner.js";
import { checkSchema } from "../../src/spec/schema-checks.js";
import { freePort } from "../support/ports.js";
import { startPostgres, type PgServer } from "../support/postgres.js";
import type { RedisServer } from "../support/redis.js";
import { startVerifiedRedis } from "./redis-server.js";

const parse = (v: unknown[]) => z.array(checkSchema).parse(v);
const ctx = { cwd: process.cwd(), vars: {} };

let pg: PgServer;
let redis: RedisServer;
let http: Server;
let httpPort: number;
beforeAll(async () => {
  http = createServer((req, res) => res.writeHead(req.url === "/ok" ? 200 : 500).end());
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  const a = http.address();
  httpPort = typeof a === "object" && a ? a.port : 0;
  [pg, redis] = await Promise.all([startPostgres(), startVerifiedRedis("pw-Redis-42")]);
});
afterAll(async () => {
  await Promise.all([pg?.stop(), redis?.stop(), new Promise<void>((r) => http.close(() => r()))]);
});

describe("connectivity checks (real PostgreSQL, Redis, HTTP, TCP)", () => {
  it("postgres: real handshake passes; wrong database fails", async () => {
    const [ok, bad] = await runChecks(
      parse([{ postgres: pg.url }, { postgres: pg.url.replace(/\/postgres$/, "/missing_db") }]),
      ctx,
    );
    expect(ok.status, ok.evidence).toBe("passed");
    expect(ok.evidence).toContain("answered select 1");
    expect(bad.status).toBe("failed");
    expect(bad.evidence).toContain("missing_db");
  });

  it("redis: AUTH with the URL's password; the password never reaches evidence or name", async () => {
    const wrong = redis.url.replace("pw-Redis-42", "not-the-password");
    const [ok, bad] = await runChecks(parse([{ redis: redis.url }, { redis: wrong }]), ctx);
    expect(ok.status, ok.evidence).toBe("passed");
    expect(bad.status).toBe("failed");
    expect(bad.evidence).toContain("AUTH refused");
    const shown = JSON.stringify([ok, bad]);
    expect(shown).not.toContain("pw-Redis-42");
    expect(shown).not.toContain("not-the-password");
  });

  it("a server that accepts TCP but does not speak the protocol fails (not just a port check)", async () => {
    const mute = createTcpServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
    const a = mute.address();
    const port = typeof a === "object" && a ? a.port : 0;
    try {
      const [tcp, pgr, rr] = await runChecks(
        parse([
          { tcp: `127.0.0.1:${port}` },
          { postgres: `postgres://u@127.0.0.1:${port}/db`, timeout: "500ms" },
          { redis: `redis://127.0.0.1:${port}`, timeout: "500ms" },
        ]),
        ctx,
      );
      expect(tcp.status).toBe("passed");
      expect(pgr.status).toBe("failed");
      expect(rr.status).toBe("failed");
      expect(rr.evidence).toContain("timed out after 500ms");
    } finally {
      mute.close();
    }
  });

  it("http: expectStatus and 2xx/3xx; tcp: refused port fails", async () => {
    const closed = await freePort();
    const [ok, err, expected, refused] = await runChecks(
      parse([
        { http: `http://127.0.0.1:${httpPort}/ok` },
        { http: `http://127.0.0.1:${httpPort}/err` },
        { http: { url: `http://127.0.0.1:${httpPort}/err`, expectStatus: 500 } },
        { tcp: `127.0.0.1:${closed}` },
      ]),
      ctx,
    );
    expect(ok.status).toBe("passed");
    expect(err.status).toBe("failed");
    expect(err.evidence).toContain("HTTP 500");
    expect(expected.status).toBe("passed");
    expect(refused.status).toBe("failed");
    expect(refused.evidence).toContain("ECONNREFUSED");
  });

  it("an empty URL from an unset variable fails with a hint", async () => {
    const [p] = await runChecks(parse([{ postgres: "" }]), ctx);
    expect(p.status).toBe("failed");
    expect(p.evidence).toContain("is the ${VAR} it comes from set?");
  });
});
