/** What a backup artifact is made of: its checksum, its name, and the config recorded with it. */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform } from "node:stream";
import type { TransformCallback } from "node:stream";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OperationFailed, Refused, UsageError } from "../errors.js";
import type { BackupRecord } from "./catalog.js";
import { scrub } from "./exec.js";
import type { BackupConfig, BackupProvider, BackupType } from "./provider.js";
import type { ReleaseSnapshot } from "./requests.js";

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

/** The provider of a release snapshot: its JSON body, nothing to restore into. */
export function releaseProvider(body: ReleaseSnapshot, revision?: number): BackupProvider {
  return {
    type: "release",
    extension: "json",
    describe: () => `release${revision !== undefined ? ` r${revision}` : ""}`,
    dump: async (_c, sink) => {
      const src = new PassThrough();
      const done = pipeline(src, sink);
      src.end(JSON.stringify(body, null, 2) + "\n");
      await done;
      const images = body.images as unknown[] | Record<string, unknown>;
      return { images: Array.isArray(images) ? images.length : Object.keys(images).length };
    },
    stage: async () => {},
    swap: async () => {},
    settle: async (_c, _x, want) => want,
    check: async () => ({ ok: true, detail: "release snapshot" }),
  };
}

/** A record a restore may use: finished, not corrupt (unless forced), not a release snapshot. */
export function restorable(rec: BackupRecord, force?: boolean): BackupRecord {
  const id = rec.id;
  if (rec.status === "running" || rec.status === "failed")
    throw new OperationFailed(
      `backup ${id} ${rec.status === "running" ? "is still running" : "failed"}; nothing to restore`,
    );
  if (rec.status === "corrupt" && !force)
    throw new Refused(
      `backup ${id} is marked corrupt (${rec.error ?? "verify failed"}); pass force to restore it anyway`,
    );
  if (rec.type === "release")
    throw new UsageError(`backup ${id} is a release snapshot: read it with readRelease() and redeploy it`);
  return rec;
}

/** A short unique name for a restore's staged data (letters and digits: safe in every provider's names). */
export function newRestoreToken(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}
