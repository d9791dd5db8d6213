/** What a backup artifact is made of: its checksum, its name, and the config recorded with it. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { scrub } from "./exec.js";
import type { BackupConfig, BackupType } from "./provider.js";

export const RELEASE_SERVICE = "_release";

/** Counts bytes and computes SHA-256 of what passes through. */
export class Digest extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h);
  return h.digest("hex");
}

export function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export function normalizeType(t: BackupConfig["type"]): BackupType {
  return t === "mariadb" ? "mysql" : t;
}

/** The config as recorded: the URL's password removed, nothing else secret in it. */
export function recordable(config: BackupConfig): BackupConfig {
  const out: BackupConfig = { type: config.type };
  if (config.url) {
    try {
      const u = new URL(config.url);
      u.password = "";
      out.url = u.toString();
    } catch {
      out.url = scrub(config.url, []);
    }
  }
  if (config.paths) out.paths = [...config.paths];
  if (config.volumes) out.volumes = [...config.volumes];
  return out;
}

export function secretsOf(config: BackupConfig): string[] {
  if (!config.url) return [];
  try {
    const p = new URL(config.url).password;
    return p ? [p, decodeURIComponent(p)] : [];
  } catch {
    return [];
  }
}
