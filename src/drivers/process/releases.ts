/**
 * Releases: a revision's artifact is a read-only copy of the service's directory, made beside
 * its final name and renamed into place, so a crash mid-copy never leaves a half release.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Artifact, PrepareOptions } from "../driver.js";
import { DriverError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { NAME, msg, type Layout } from "./layout.js";

export function prepareRelease(
  layout: Layout,
  logger: Logger,
  at: { project: string; env: string; service: ResolvedService; revision: number },
  opts: PrepareOptions,
): Artifact {
  const { service, revision } = at;
  const dest = layout.releaseDir(at.project, at.env, service.name, revision);
  const artifact = { service: service.name, revision, ref: dest };
  if (opts.existingOnly) {
    if (!existsSync(dest))
      throw new DriverError(
        NAME,
        `release r${revision} of ${service.name} is no longer kept (removed by \`slipway destroy\`, or pruned past services.${service.name}.retain); it cannot be restored: deploy it again`,
      );
    return artifact;
  }
  const src = service.path;
  let isDir = false;
  try {
    isDir = statSync(src).isDirectory();
  } catch {
    isDir = false;
  }
  if (!src || !isDir)
    throw new DriverError(
      NAME,
      `service "${service.name}": path "${src}" does not exist or is not a directory (services.${service.name}.path)`,
    );
  if (existsSync(dest)) return artifact;
  mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
  const tmp = `${dest}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    const named = namedEnvFiles(service);
    cpSync(src, tmp, { recursive: true, verbatimSymlinks: true, filter: (s) => copied(s, named) });
    setWritable(tmp, false);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      if (!existsSync(dest)) throw e;
    }
  } catch (e) {
    throw new DriverError(NAME, `service "${service.name}": could not copy ${src} to ${dest}: ${msg(e)}`);
  } finally {
    if (existsSync(tmp)) removeTree(tmp);
  }
  logger.debug("release prepared", { service: service.name, revision, dir: dest });
  return artifact;
}

/** A dotenv file: `.env`, `.env.production`, `.env.local`… */
const ENV_FILE = /^\.env(\.[^/]+)?$/;

/**
 * The dotenv files a service's own fields name (`run: node --env-file=.env.production …`): those
 * are copied into the release. Any other `.env*` file of the directory is not: its values reach
 * the instance through `envFile`/`env` when the spec wants them, and a stray `.env` full of
 * another environment's secrets must not travel into every release.
 */
function namedEnvFiles(service: ResolvedService): Set<string> {
  const text = JSON.stringify(service);
  return new Set([...text.matchAll(/(?<![\w.])\.env(?:\.[\w-]+)*(?![\w])/g)].map((m) => m[0]));
}

function copied(path: string, namedEnv: Set<string>): boolean {
  const b = basename(path);
  if (b === ".git") return false;
  // Only files: a Python virtualenv is often a directory called .env.
  if (ENV_FILE.test(b) && !namedEnv.has(b)) return !lstatSync(path).isFile();
  return true;
}

/** Removes releases not in `keep` nor `inUse`, and copies left half-done over an hour ago. */
export function pruneReleases(
  dir: string,
  logger: Logger,
  service: string,
  keep: number[],
  inUse: Set<number>,
): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^r(\d+)(\.tmp-.*)?$/.exec(name);
    if (!m) continue;
    const rev = Number(m[1]);
    const stale = m[2] !== undefined && Date.now() - statSync(join(dir, name)).mtimeMs > 3_600_000;
    if (m[2] === undefined ? keep.includes(rev) || inUse.has(rev) : !stale) continue;
    removeTree(join(dir, name));
    logger.debug("release removed", { service, revision: rev });
  }
}

/**
 * Sets or clears the write bits of a tree (symlinks untouched); a read-only release is also
 * private (no group or other bits: it lives in SLIPWAY_HOME, the user's alone).
 */
function setWritable(root: string, writable: boolean): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    const mode = writable ? st.mode | 0o200 : st.mode & ~0o222 & ~0o077;
    chmodSync(p, mode & 0o7777);
  };
  walk(root);
}

export function removeTree(p: string): void {
  try {
    // Directories of a read-only release must be writable again before their entries go.
    const walk = (q: string) => {
      const st = lstatSync(q);
      if (st.isDirectory()) {
        chmodSync(q, (st.mode | 0o700) & 0o7777);
        for (const n of readdirSync(q)) walk(join(q, n));
      }
    };
    walk(p);
  } catch {
    // already gone
  }
  rmSync(p, { recursive: true, force: true });
}
