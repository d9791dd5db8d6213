/**
 * Redis restores, staged: the backup's keys are written into the live server under the prefix
 * `slipway:restore:<token>:`, then one MULTI/EXEC (atomic: no client sees half of it) renames,
 * database by database, every live key to `slipway:prev:<token>:<key>` and every staged key to
 * its own name. A marker key (`slipway:restore-marker:<token>`, "staged" → "swapped", changed in
 * the same MULTI) tells a later look which side is live; settle drops the other side.
 */
import type { Redis } from "ioredis";
import { OperationFailed } from "../errors.js";
import type { RestoreSide } from "./provider.js";

export function keyNames(token: string) {
  return {
    staged: `slipway:restore:${token}:`,
    previous: `slipway:prev:${token}:`,
    marker: `slipway:restore-marker:${token}`,
  };
}

async function databases(c: Redis): Promise<number[]> {
  const info = await c.info("keyspace");
  return [...info.matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]));
}

async function scanAll(c: Redis, db: number, match = "*"): Promise<string[]> {
  await c.select(db);
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await c.scan(cursor, "MATCH", match, "COUNT", 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== "0");
  return out;
}

/** Copy every key of `src` into `dst` under `prefix` (same database number, TTLs kept). */
export async function copyPrefixed(src: Redis, dst: Redis, prefix: string): Promise<number> {
  let copied = 0;
  for (const db of await databases(src)) {
    await dst.select(db);
    await src.select(db);
    let cursor = "0";
    do {
      const [next, keys] = await src.scan(cursor, "COUNT", 1000);
      cursor = next;
      if (!keys.length) continue;
      const read = src.pipeline();
      for (const k of keys) read.dumpBuffer(k).pttl(k);
      const res = (await read.exec()) ?? [];
      const write = dst.pipeline();
      for (let i = 0; i < keys.length; i++) {
        const value = res[2 * i][1] as Buffer | null;
        const ttl = Number(res[2 * i + 1][1]);
        if (value === null || ttl === -2) continue;
        write.restore(prefix + keys[i], ttl > 0 ? ttl : 0, value, "REPLACE");
        copied++;
      }
      const done = (await write.exec()) ?? [];
      const failed = done.find(([err]) => err);
      if (failed?.[0]) throw new OperationFailed(`redis RESTORE failed: ${failed[0].message}`);
    } while (cursor !== "0");
  }
  return copied;
}

interface Sides {
  db: number;
  live: string[];
  staged: string[];
  previous: string[];
}

/** Every database's keys, sorted into live ones, staged ones and ones set aside by this token. */
async function sides(c: Redis, token: string): Promise<Sides[]> {
  const n = keyNames(token);
  const out: Sides[] = [];
  for (const db of await databases(c)) {
    const s: Sides = { db, live: [], staged: [], previous: [] };
    for (const k of await scanAll(c, db)) {
      if (k.startsWith(n.staged)) s.staged.push(k);
      else if (k.startsWith(n.previous)) s.previous.push(k);
      else if (!(db === 0 && k === n.marker)) s.live.push(k);
    }
    out.push(s);
  }
  await c.select(0);
  return out;
}

/** One MULTI/EXEC: the `from` side (staged or previous) becomes live, the live keys go `aside`. */
async function exchange(c: Redis, token: string, from: "staged" | "previous", state: string): Promise<void> {
  const n = keyNames(token);
  const all = await sides(c, token);
  const m = c.multi();
  for (const s of all) {
    m.select(s.db);
    if (from === "staged") for (const k of s.live) m.rename(k, n.previous + k);
    else for (const k of s.live) m.del(k);
    for (const k of s[from]) m.rename(k, k.slice(n[from].length));
  }
  m.select(0);
  m.set(n.marker, state);
  const res = (await m.exec()) ?? [];
  await c.select(0);
  // A key that expired between the scan and EXEC fails its RENAME alone; anything else is an error.
  const failed = res.find(([err]) => err && !/no such key/i.test(err.message));
  if (failed?.[0]) throw new OperationFailed(`redis swap failed: ${failed[0].message}`);
}

export async function swapKeys(c: Redis, token: string): Promise<void> {
  const state = await c.get(keyNames(token).marker);
  if (state !== "staged") throw new OperationFailed("nothing staged to swap in (the marker key is missing)");
  await exchange(c, token, "staged", "swapped");
}

async function dropPrefix(c: Redis, prefix: string): Promise<void> {
  for (const db of await databases(c)) {
    const keys = await scanAll(c, db, `${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await c.del(...keys.slice(i, i + 1000));
  }
  await c.select(0);
}

export async function settleKeys(c: Redis, token: string, want: RestoreSide): Promise<RestoreSide> {
  const n = keyNames(token);
  await c.select(0);
  const state = await c.get(n.marker);
  let side: RestoreSide = state === "swapped" ? "new" : state === "staged" ? "old" : want;
  if (state === "swapped" && want === "old") {
    await exchange(c, token, "previous", "reverted");
    side = "old";
  } else if (state === "staged" && want === "new") {
    await exchange(c, token, "staged", "swapped");
    side = "new";
  }
  await dropPrefix(c, n.staged);
  await dropPrefix(c, n.previous);
  await c.del(n.marker);
  return side;
}
