import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { redisProvider } from "../../src/backup/redis.js";
import { runBackupProviderConformance } from "../../src/backup/provider.case.js";
import { startRedis } from "../support/redis.js";
import type { RedisServer } from "../support/redis.js";
import { harness } from "./helpers.js";
import type { Harness } from "./helpers.js";

const PASSWORD = "redis-pw-7f3a";
let server: RedisServer;
let h: Harness;
let r: Redis;

async function snapshot(): Promise<string> {
  const out: string[] = [];
  for (const db of [0, 3]) {
    await r.select(db);
    const keys = (await r.keys("*")).sort();
    for (const k of keys) {
      const type = await r.type(k);
      const value =
        type === "string"
          ? await r.get(k)
          : type === "hash"
            ? JSON.stringify(await r.hgetall(k))
            : type === "list"
              ? JSON.stringify(await r.lrange(k, 0, -1))
              : JSON.stringify((await r.smembers(k)).sort());
      out.push(`${db} ${k} ${type} ${value} ttl:${(await r.ttl(k)) > 0 ? "yes" : "no"}`);
    }
  }
  await r.select(0);
  return out.join("\n");
}

beforeAll(async () => {
  server = await startRedis({ password: PASSWORD });
  r = new Redis(server.url);
  // The RDB comes over the replication protocol; skip the server's 5 s wait for more replicas.
  await r.config("SET", "repl-diskless-sync-delay", "0");
  const p = r.pipeline();
  for (let i = 0; i < 300; i++) p.set(`k:${i}`, `v${i}`);
  p.hset("user:1", { name: "Ada", role: "admin" });
  p.rpush("queue", "a", "b", "c");
  p.set("session", "s", "EX", 3600);
  p.select(3).sadd("tags", "x", "y").select(0);
  await p.exec();
  h = harness();
});

afterAll(async () => {
  r?.disconnect();
  h?.close();
  await server?.stop();
});

describe("redis backups (real redis-server with a password)", () => {
  let id: string;

  test("backup → change data → restore → data equal (keys, types, databases, TTLs)", async () => {
    const before = await snapshot();
    const rec = await h.manager.backup({
      project: "p",
      env: "dev",
      service: "cache",
      config: { type: "redis", url: server.url },
    });
    id = rec.id;
    expect(rec.status).toBe("ok");
    expect(rec.facts.keys).toEqual({ db0: 303, db3: 1 });

    await r.flushall();
    await r.set("k:1", "changed");
    await r.set("new-key", "x");
    expect(await snapshot()).not.toBe(before);

    await h.manager.restore(id, { config: { type: "redis", url: server.url } });
    expect(await snapshot()).toBe(before);
  });

  test("the password is neither recorded nor logged", async () => {
    expect(JSON.stringify(await h.manager.list("p", "dev"))).not.toContain(PASSWORD);
    expect(h.logged.join("\n")).not.toContain(PASSWORD);
  });

  test("a wrong password says so (not ioredis's 'Connection is closed'), without the password", async () => {
    const wrong = server.url.replace(encodeURIComponent(PASSWORD), "not-the-password");
    const err = await h.manager
      .backup({ project: "p", env: "dev", service: "cache", config: { type: "redis", url: wrong } })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/cannot connect to redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/);
    expect(err?.message).not.toContain("not-the-password");
  });

  test("verify loads the RDB in a scratch redis-server and compares key counts", async () => {
    const rec = await h.manager.verify(id);
    expect(rec.status).toBe("verified");
    expect(rec.verifyDetail).toBe("loaded in a scratch redis-server: 304 keys match");
  });
});

runBackupProviderConformance("redis", () => ({
  provider: redisProvider,
  config: { type: "redis", url: server.url },
  snapshot,
  mutate: async () => {
    await r.del("k:7", "queue");
    await r.set("k:8", "changed");
    await r.hset("user:2", { name: "Grace" });
  },
}));
