import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProbe } from "../../src/health/create.js";
import { ExecProbe } from "../../src/health/exec.js";
import { HttpProbe } from "../../src/health/http.js";
import { PostgresProbe } from "../../src/health/postgres.js";
import { RedisProbe } from "../../src/health/redis.js";
import { TcpProbe } from "../../src/health/tcp.js";
import { healthSchema } from "../../src/spec/schema.js";
import { SpecError } from "../../src/errors.js";
import { freePort } from "../support/ports.js";
import { startPostgres, type PgServer } from "../support/postgres.js";
import type { RedisServer } from "../support/redis.js";
import { startVerifiedRedis } from "../checks/redis-server.js";

const opts = { timeoutMs: 2000 };

function listen(srv: Server | TcpServer): Promise<number> {
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      resolve(typeof a === "object" && a ? a.port : 0);
    }),
  );
}

describe("http probe", () => {
  let srv: Server;
  let port: number;
  beforeAll(async () => {
    srv = createHttpServer((req, res) => {
      if (req.url === "/health") res.writeHead(200).end("ok");
      else if (req.url === "/moved") res.writeHead(302, { location: "/health" }).end();
      else if (req.url === "/teapot") res.writeHead(418).end();
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 3000);
      else res.writeHead(503).end("down");
    });
    port = await listen(srv);
  });
  afterAll(() => new Promise<void>((r) => srv.close(() => r())));

  it("passes on 2xx and 3xx", async () => {
    const ok = await new HttpProbe("/health").check({ host: "127.0.0.1", port }, opts);
    expect(ok.ok).toBe(true);
    expect(ok.message).toContain("HTTP 200");
    expect((await new HttpProbe("/moved").check({ host: "127.0.0.1", port }, opts)).ok).toBe(true);
  });

  it("fails on 5xx and honours expectStatus", async () => {
    const bad = await new HttpProbe("/down").check({ host: "127.0.0.1", port }, opts);
    expect(bad.ok).toBe(false);
    expect(bad.message).toContain("HTTP 503");
    expect((await new HttpProbe("/teapot", 418).check({ host: "127.0.0.1", port }, opts)).ok).toBe(true);
    const wrong = await new HttpProbe("/health", 204).check({ host: "127.0.0.1", port }, opts);
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toContain("expected 204");
  });

  it("fails on a refused connection and on its timeout", async () => {
    const closed = await freePort();
    const refused = await new HttpProbe("/health").check({ host: "127.0.0.1", port: closed }, opts);
    expect(refused.ok).toBe(false);
    expect(refused.message).toContain("ECONNREFUSED");
    const slow = await new HttpProbe("/slow").check({ host: "127.0.0.1", port }, { timeoutMs: 200 });
    expect(slow.ok).toBe(false);
    expect(slow.message).toContain("timed out");
  });
});

describe("tcp probe", () => {
  it("passes when the port accepts and fails when nothing listens", async () => {
    const srv = createTcpServer((s) => s.end());
    const port = await listen(srv);
    try {
      expect((await new TcpProbe().check({ host: "127.0.0.1", port }, opts)).ok).toBe(true);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
    const r = await new TcpProbe().check({ host: "127.0.0.1", port }, opts);
    expect(r.ok).toBe(false);
    expect(r.message).toContain("ECONNREFUSED");
  });
});

describe("exec probe", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-exec-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs in the instance's cwd with its env; exit 0 passes", async () => {
    const probe = new ExecProbe('test "$(pwd)" = "$WANT" && echo fine');
    const r = await probe.check({ host: "127.0.0.1", cwd: dir, env: { WANT: dir } }, opts);
    expect(r.ok).toBe(true);
    expect(r.message).toContain("exit 0");
    expect(r.message).toContain("fine");
  });

  it("fails on a non-zero exit and on timeout", async () => {
    const r = await new ExecProbe("echo broken >&2; exit 3").check({ host: "127.0.0.1", cwd: dir }, opts);
    expect(r.ok).toBe(false);
    expect(r.message).toContain("exit 3");
    expect(r.message).toContain("broken");
    const slow = await new ExecProbe("sleep 5").check({ host: "127.0.0.1", cwd: dir }, { timeoutMs: 200 });
    expect(slow.ok).toBe(false);
    expect(slow.message).toContain("timed out");
  });
});

describe("postgres and redis probes (real servers)", () => {
  let pg: PgServer;
  let redis: RedisServer;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startVerifiedRedis("s3cret-pass")]);
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  it("postgres: select 1 passes; an unknown database fails", async () => {
    const ok = await new PostgresProbe(pg.url).check({ host: "127.0.0.1" }, opts);
    expect(ok.ok, ok.message).toBe(true);
    expect(ok.message).toMatch(/PostgreSQL 1\d/);
    const bad = await new PostgresProbe(pg.url.replace(/\/postgres$/, "/nope")).check({ host: "x" }, opts);
    expect(bad.ok).toBe(false);
    expect(bad.message).toContain('database "nope" does not exist');
  });

  it("postgres: a closed port fails and never shows the password", async () => {
    const port = await freePort();
    const r = await new PostgresProbe(`postgres://app:hunter22@127.0.0.1:${port}/db`).check(
      { host: "x" },
      opts,
    );
    expect(r.ok).toBe(false);
    expect(r.message).toContain("ECONNREFUSED");
    expect(r.message).not.toContain("hunter22");
  });

  it("redis: AUTH + PING passes; a wrong password or none fails", async () => {
    const ok = await new RedisProbe(redis.url).check({ host: "x" }, opts);
    expect(ok.ok, ok.message).toBe(true);
    expect(ok.message).toContain("PONG");
    const wrong = await new RedisProbe(redis.url.replace("s3cret-pass", "nope")).check({ host: "x" }, opts);
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toMatch(/AUTH refused/);
    expect(wrong.message).not.toContain("nope");
    const none = await new RedisProbe(`redis://127.0.0.1:${redis.port}`).check({ host: "x" }, opts);
    expect(none.ok).toBe(false);
    expect(none.message).toContain("NOAUTH");
  });
});

describe("createProbe", () => {
  it("builds the probe from health settings and refuses settings without a kind", () => {
    expect(createProbe(healthSchema.parse({ http: "/health" })).kind).toBe("http");
    expect(createProbe(healthSchema.parse({ tcp: true, exec: "true" })).kind).toBe("tcp+exec");
    expect(() => createProbe(healthSchema.parse({ interval: "1s" }))).toThrow(SpecError);
  });

  it("names a failing probe of several by its own kind", async () => {
    const srv = createTcpServer((s) => s.destroy());
    const port = await listen(srv);
    try {
      const r = await createProbe(healthSchema.parse({ tcp: true, exec: "echo not ready; exit 3" })).check(
        { host: "127.0.0.1", port },
        opts,
      );
      expect(r.ok).toBe(false);
      expect(r.message).toMatch(/^exec: exit 3 in \d+ms: not ready$/);
    } finally {
      srv.close();
    }
  });
});
