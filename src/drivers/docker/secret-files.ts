/**
 * `secrets: { as: files }`: secret env values written into the created container as files under
 * /run/secrets (before it starts), so that the engine's container configuration — what
 * `docker inspect` prints — holds only NAME_FILE=/run/secrets/NAME, never the value.
 */
import { Readable } from "node:stream";
import { pack } from "tar-stream";
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
 * A tar archive of run/secrets/NAME files for the engine's putArchive (extracted at /), as a
 * stream the engine request reads from (a Node stream: the engine client pipes it).
 */
export function secretsTar(
  files: Record<string, string>,
  owner: { uid?: number; gid?: number } = {},
): Readable {
  const common = { uid: owner.uid ?? 0, gid: owner.gid ?? 0, mtime: new Date() };
  const tar = pack();
  // No entry for run/ itself: the engine creates it when missing and leaves an existing one alone.
  tar.entry({ ...common, name: "run/secrets/", type: "directory", mode: 0o755 });
  for (const [name, value] of Object.entries(files)) {
    tar.entry(
      { ...common, name: `run/secrets/${name}`, type: "file", mode: MODE },
      Buffer.from(value, "utf8"),
    );
  }
  tar.finalize();
  return Readable.from(tar, { objectMode: false });
}
