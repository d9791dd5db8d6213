/**
 * Redis: an RDB snapshot fetched over the replication protocol (`redis-cli --rdb`), so the
 * backup needs no access to the server's disk and no restart.
 *
 * Restore semantics (redis-restore.ts): the RDB is loaded into a private scratch redis-server
 * (unix socket only), every key is copied into the target under a temporary prefix with
 * DUMP/RESTORE (keeping each key's remaining TTL), then one MULTI/EXEC renames the live keys
 * aside and the restored ones into place; settle drops the keys set aside (or renames them
 * back). It works against any Redis that accepts RESTORE and RENAME (not a cluster), without
 * touching its files or restarting it.
 */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Redis } from "ioredis";
import { OperationFailed } from "../errors.js";
import { backupUrl, redactUrl, run } from "./exec.js";
import type { BackupConfig, BackupFacts, BackupProvider, CheckResult, ProviderContext } from "./provider.js";
import { diffCounts } from "./provider.js";
import { copyPrefixed, keyNames, settleKeys, swapKeys } from "./redis-restore.js";

interface RedisTarget {
  url: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
  tls: boolean;
}

function target(config: BackupConfig): RedisTarget {
  const { u, url } = backupUrl("redis", config.url, ["redis:", "rediss:"]);
  return {
    url: url,
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 6379),
    user: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === "rediss:",
  };
}

function client(opts: { url?: string; path?: string }): Redis {
  const common = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: true,
  };
  const c = opts.path ? new Redis({ path: opts.path, ...common }) : new Redis(opts.url!, common);
  c.on("error", () => {});
  return c;
}

async function open(opts: { url?: string; path?: string }, what: string): Promise<Redis> {
  const c = client(opts);
  // A refused AUTH (WRONGPASS) reaches only the 'error' event; connect() then says just
  // "Connection is closed."
  let cause: Error | undefined;
  c.on("error", (e: Error) => (cause ??= e));
  try {
    await c.connect();
  } catch (e) {
    c.disconnect();
    const why = cause?.message ?? (e instanceof Error ? e.message : String(e));
    throw new OperationFailed(`cannot connect to ${what}: ${why}`);
  }
  return c;
}

/** Key counts per database from INFO keyspace, e.g. { db0: 12, db3: 1 }. */
async function keyspace(c: Redis): Promise<Record<string, number>> {
  const info = await c.info("keyspace");
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^(db\d+):keys=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

interface Scratch {
  client: Redis;
  stop(): Promise<void>;
}

/** A redis-server on a unix socket in workDir, loading `rdb`. Rejects when it cannot load it. */
async function scratchServer(rdb: string, ctx: ProviderContext): Promise<Scratch> {
  const dir = join(ctx.workDir, "scratch-redis");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  copyFileSync(rdb, join(dir, "dump.rdb"));
  chmodSync(join(dir, "dump.rdb"), 0o600);
  const socket = join(dir, "redis.sock");
  const child = spawn(
    "redis-server",
    [
      "--port",
      "0",
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--dir",
      dir,
      "--dbfilename",
      "dump.rdb",
    ].concat(["--save", "", "--appendonly", "no", "--databases", "256"]),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-3000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.on("exit", () => {
      exited = true;
      r();
    }),
  );
  const stop = async () => {
    if (!exited) child.kill("SIGKILL");
    await exit;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) {
      const why = log
        .split("\n")
        .filter((l) => /#|error|bad|wrong|short/i.test(l))
        .slice(-3)
        .join(" | ");
      throw new OperationFailed(`redis-server could not load the RDB file: ${why || "it exited"}`);
    }
    if (existsSync(socket)) {
      const c = client({ path: socket });
      try {
        await c.connect();
        const persistence = await c.info("persistence");
        if (/^loading:0/m.test(persistence)) return { client: c, stop: async () => (c.disconnect(), stop()) };
      } catch {
        // still loading or not yet listening
      }
      c.disconnect();
    }
    if (Date.now() > deadline) {
      await stop();
      throw new OperationFailed("the scratch redis-server did not finish loading the RDB within 120 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const redisProvider: BackupProvider = {
  type: "redis",
  extension: "rdb",

  describe(config) {
    return config.url ? redactUrl(config.url) : "redis";
  },

  async dump(config, sink: Writable, ctx): Promise<BackupFacts> {
    const t = target(config);
    const c = await open({ url: t.url }, redactUrl(t.url));
    try {
      const before = await keyspace(c);
      // redis-cli truncates the diskless-sync EOF marker only when writing a regular file.
      const file = join(ctx.workDir, "snapshot.rdb");
      const args = ["-h", t.host, "-p", String(t.port), ...(t.user ? ["--user", t.user] : [])];
      if (t.tls) args.push("--tls");
      await run("redis-cli", [...args, "--no-auth-warning", "--rdb", file], {
        env: t.password !== undefined ? { REDISCLI_AUTH: t.password } : {},
        secrets: [t.password ?? ""],
      });
      const after = await keyspace(c);
      await pipeline(createReadStream(file), sink);
      // Counts are only exact when nothing was written during the transfer.
      const exact = diffCounts(before, after).length === 0;
      return exact ? { keys: after } : { keysApprox: after };
    } finally {
      c.disconnect();
    }
  },

  async stage(config, file, ctx) {
    const t = target(config);
    const scratch = await scratchServer(file, ctx);
    const dst = await open({ url: t.url }, redactUrl(t.url));
    try {
      const copied = await copyPrefixed(scratch.client, dst, keyNames(ctx.token).staged);
      // Written last: its presence says the stage finished and the swap has not run.
      await dst.select(0);
      await dst.set(keyNames(ctx.token).marker, "staged");
      ctx.logger.info("redis restore staged", { keys: copied, into: redactUrl(t.url) });
    } finally {
      dst.disconnect();
      await scratch.stop();
    }
  },

  async swap(config, ctx) {
    const t = target(config);
    const dst = await open({ url: t.url }, redactUrl(t.url));
    try {
      await swapKeys(dst, ctx.token);
    } finally {
      dst.disconnect();
    }
  },

  async settle(config, ctx, want) {
    const t = target(config);
    const dst = await open({ url: t.url }, redactUrl(t.url));
    try {
      return await settleKeys(dst, ctx.token, want);
    } finally {
      dst.disconnect();
    }
  },

  async check(_config, file, facts, ctx): Promise<CheckResult> {
    let scratch: Scratch;
    try {
      scratch = await scratchServer(file, ctx);
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
    try {
      const observed = await keyspace(scratch.client);
      const total = Object.values(observed).reduce((a, b) => a + b, 0);
      const expected = facts.keys as Record<string, number> | undefined;
      if (!expected)
        return {
          ok: true,
          detail: `loaded in a scratch redis-server: ${total} keys (writes during the backup: counts not compared)`,
          observed: { keys: observed },
        };
      const diff = diffCounts(expected, observed);
      return diff.length
        ? { ok: false, detail: `key counts differ: ${diff.join("; ")}`, observed: { keys: observed } }
        : {
            ok: true,
            detail: `loaded in a scratch redis-server: ${total} keys match`,
            observed: { keys: observed },
          };
    } finally {
      await scratch.stop();
    }
  },
};
