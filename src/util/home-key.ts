/**
 * A random key kept in SLIPWAY_HOME (mode 0600), made at first use: fingerprints are HMACs under
 * it, so a stored fingerprint says nothing about the secret values it covers, yet stays the same
 * from run to run. Two callers making it at once agree (the first file wins).
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const cache = new Map<string, Buffer>();

export function homeKey(home: string, name = "fingerprint.key"): Buffer {
  const file = join(home, name);
  const known = cache.get(file);
  if (known) return known;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  let key: Buffer | undefined;
  try {
    const fd = openSync(`${file}`, "wx", 0o600);
    try {
      key = randomBytes(32);
      writeSync(fd, key.toString("hex"));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  if (!key) {
    // Written by another process; it may still be writing its 64 hex digits.
    for (let i = 0; i < 50 && !key; i++) {
      const text = readFileSync(file, "utf8").trim();
      if (/^[0-9a-f]{64}$/.test(text)) key = Buffer.from(text, "hex");
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    if (!key) throw new Error(`${file} does not hold a key (64 hex digits): remove it to make a new one`);
  }
  cache.set(file, key);
  return key;
}
