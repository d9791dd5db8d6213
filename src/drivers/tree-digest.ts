/**
 * A digest of a directory tree (relative paths, file modes, contents, symlink targets): what a
 * release is made from, so a deploy can tell an unchanged service from a changed one.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** `files`: relative paths to include (a build context after .dockerignore); default every file but `.git`. */
export function treeDigest(dir: string, files?: string[]): string {
  const hash = createHash("sha256");
  const list = files ?? walk(dir);
  for (const rel of [...list].sort()) {
    const p = join(dir, rel);
    const st = lstatSync(p);
    hash.update(`${rel}\0${st.mode}\0`);
    if (st.isSymbolicLink()) hash.update(readlinkSync(p));
    else if (st.isFile()) hash.update(readFileSync(p));
    hash.update("\0");
  }
  return `sha256:${hash.digest("hex")}`;
}

function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    if (e.name === ".git") continue;
    const rel = prefix ? join(prefix, e.name) : e.name;
    if (e.isDirectory()) out.push(...walk(dir, rel));
    else out.push(rel);
  }
  return out;
}
