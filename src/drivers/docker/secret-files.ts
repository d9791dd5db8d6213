/**
 * `secrets: { as: files }`: secret env values written into the created container as files under
 * /run/secrets (before it starts), so that the engine's container configuration — what
 * `docker inspect` prints — holds only NAME_FILE=/run/secrets/NAME, never the value.
 */
import type { ResolvedService } from "../../spec/resolved.js";

export const SECRETS_DIR = "/run/secrets";
const MODE = 0o400;

/** The env keys of a service that go to files (none unless `secrets.as` is "files"). */
export function secretFileKeys(svc: ResolvedService): string[] {
  if (svc.secrets?.as !== "files") return [];
  const keys = svc.secrets.names ?? svc.secretEnv ?? [];
  // A key that is not a plain file name cannot be one (and must not escape the directory).
  return keys.filter((k) => k in svc.env && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
}

/**
 * A tar archive of run/secrets/NAME files for the engine's putArchive (extracted at /): written
 * here because it is tiny, in memory, and a dependency for three header fields is not worth it.
 */
export function secretsTar(
  files: Record<string, string>,
  owner: { uid?: number; gid?: number } = {},
): Buffer {
  const uid = owner.uid ?? 0;
  const gid = owner.gid ?? 0;
  const mtime = Math.floor(Date.now() / 1000);
  // No entry for run/ itself: the engine creates it when missing and leaves an existing one alone.
  const blocks: Buffer[] = [header("run/secrets/", 0, 0o755, uid, gid, mtime, "5")];
  for (const [name, value] of Object.entries(files)) {
    const body = Buffer.from(value, "utf8");
    blocks.push(header(`run/secrets/${name}`, body.length, MODE, uid, gid, mtime, "0"));
    blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(blocks);
}

function header(
  name: string,
  size: number,
  mode: number,
  uid: number,
  gid: number,
  mtime: number,
  type: "0" | "5",
): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`secret file name too long: ${name}`);
  const h = Buffer.alloc(512);
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, 8, "ascii");
  h.write(octal(uid, 8), 108, 8, "ascii");
  h.write(octal(gid, 8), 116, 8, "ascii");
  h.write(octal(size, 12), 124, 12, "ascii");
  h.write(octal(mtime, 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii"); // the checksum counts its own field as spaces
  h.write(type, 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}
