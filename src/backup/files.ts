/**
 * Files and directories: tar + gzip (GNU tar). The archive's own verbose listing is kept as the
 * manifest (entry names, types, regular-file bytes), so verify compares the extracted tree with
 * exactly what tar wrote.
 *
 * Restore semantics (tree-swap.ts): each backed-up path is extracted next to itself (same
 * filesystem) and then swapped in with rename, so the path ends up exactly as it was at backup
 * time (files created since are gone) and a failed extraction leaves the live path untouched.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Writable } from "node:stream";
import { OperationFailed } from "../errors.js";
import { run } from "./exec.js";
import type {
  BackupConfig,
  BackupFacts,
  BackupProvider,
  CheckResult,
  ProviderContext,
  RestoreSide,
} from "./provider.js";
import { settleTree, stageTree, swapTree } from "./tree-swap.js";

export interface Manifest {
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  /** sha256 of the sorted "type name" lines. */
  digest: string;
}

function summarize(lines: string[], bytes: number): Manifest {
  lines.sort();
  const count = (t: string) => lines.filter((l) => l.startsWith(`${t} `)).length;
  return {
    entries: lines.length,
    files: count("f"),
    dirs: count("d"),
    symlinks: count("l"),
    bytes,
    digest: createHash("sha256").update(lines.join("\n")).digest("hex"),
  };
}

const norm = (name: string) =>
  name
    .replace(/\/\.(?=\/|$)/g, "")
    .replace(/^\.\//, "")
    .replace(/\/+$/, "");

/**
 * Parses `tar -cvv --full-time` output (literal quoting) into a manifest. GNU tar pads the time
 * column to the widest stamp so far (a fraction ending in 0 is printed shorter), so any run of
 * spaces ends it; a name itself never starts with one (it starts with one of our members).
 */
export function manifestFromListing(listing: string): Manifest {
  const lines: string[] = [];
  let bytes = 0;
  for (const line of listing.split("\n")) {
    const m = /^(\S)\S*\s+\S+\s+(\d+|\d+,\s*\d+)\s+\S+\s+\S+ +(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, size, rest] = m;
    let name = rest;
    let type = "o";
    if (kind === "-") {
      type = "f";
      bytes += Number(size);
    } else if (kind === "h") {
      type = "f";
      name = rest.replace(/ link to .*$/, "");
    } else if (kind === "d") type = "d";
    else if (kind === "l") {
      type = "l";
      name = rest.replace(/ -> .*$/, "");
    }
    name = norm(name);
    if (name === "" || name === ".") continue;
    lines.push(`${type} ${name}`);
  }
  return summarize(lines, bytes);
}

/** Walks extracted members under `root` into a manifest comparable with manifestFromListing. */
export function manifestFromTree(root: string, members: string[]): Manifest {
  const lines: string[] = [];
  const inodes = new Set<string>();
  let bytes = 0;
  const visit = (rel: string) => {
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) {
      if (rel !== "") lines.push(`d ${rel}`);
      for (const child of readdirSync(join(root, rel))) visit(rel ? `${rel}/${child}` : child);
    } else if (st.isSymbolicLink()) lines.push(`l ${rel}`);
    else if (st.isFile()) {
      lines.push(`f ${rel}`);
      const key = `${st.dev}:${st.ino}`;
      if (!inodes.has(key)) bytes += st.size;
      inodes.add(key);
    } else lines.push(`o ${rel}`);
  };
  for (const m of members) visit(norm(m));
  return summarize(lines, bytes);
}

const TAR_CREATE = ["--create", "--gzip", "--file=-", "--verbose", "--verbose", "--quoting-style=literal"];

/** Streams a tar.gz of `members` (relative to `cwd`) into sink; returns the manifest. */
export async function tarDump(
  cwd: string,
  members: string[],
  sink: Writable,
  ctx: ProviderContext,
): Promise<Manifest> {
  const index = join(ctx.workDir, "tar-index.txt");
  await run("tar", [...TAR_CREATE, `--index-file=${index}`, "--full-time", "-C", cwd, "--", ...members], {
    stdout: sink,
  });
  return manifestFromListing(readFileSync(index, "utf8"));
}

/** Extracts `file` into a fresh dir under workDir and compares it with the recorded manifest. */
export async function tarCheck(
  file: string,
  members: string[],
  facts: BackupFacts,
  ctx: ProviderContext,
): Promise<CheckResult> {
  const dest = join(ctx.workDir, "extract");
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  try {
    await run("tar", ["--extract", "--gzip", `--file=${file}`, "--no-same-owner", "-C", dest]);
  } catch (e) {
    return { ok: false, detail: `extracting the archive failed: ${(e as Error).message}` };
  }
  const expected = facts.manifest as Manifest | undefined;
  const observed = manifestFromTree(dest, members);
  if (!expected) return { ok: true, detail: `extracted ${observed.files} files (no manifest recorded)` };
  const diffs: string[] = [];
  for (const k of ["entries", "files", "dirs", "symlinks", "bytes"] as const)
    if (expected[k] !== observed[k]) diffs.push(`${k}: ${expected[k]} → ${observed[k]}`);
  if (!diffs.length && expected.digest !== observed.digest) diffs.push("file names differ");
  return diffs.length
    ? {
        ok: false,
        detail: `extracted tree differs from the manifest: ${diffs.join("; ")}`,
        observed: { manifest: observed },
      }
    : {
        ok: true,
        detail: `extracted to a scratch directory: ${observed.files} files, ${observed.bytes} bytes match`,
        observed: { manifest: observed },
      };
}

function absPaths(config: BackupConfig): string[] {
  const paths = config.paths ?? [];
  if (!paths.length) throw new OperationFailed("files backup: no paths configured");
  for (const p of paths)
    if (!isAbsolute(p)) throw new OperationFailed(`files backup: path must be absolute here: ${p}`);
  return paths.map((p) => p.replace(/\/+$/, "") || "/");
}

const member = (abs: string) => abs.replace(/^\/+/, "") || ".";

export const filesProvider: BackupProvider = {
  type: "files",
  extension: "tar.gz",

  describe(config) {
    return (config.paths ?? []).join(", ");
  },

  async dump(config, sink, ctx) {
    const paths = absPaths(config);
    const manifest = await tarDump("/", paths.map(member), sink, ctx);
    return { paths, manifest };
  },

  async stage(config, file, ctx) {
    for (const p of absPaths(config)) {
      ctx.logger.info("staging path", { path: p });
      await stageTree(file, member(p), p, ctx.token);
    }
  },

  async swap(config, ctx) {
    for (const p of absPaths(config)) swapTree(p, ctx.token);
  },

  async settle(config, ctx, want) {
    let side: RestoreSide = want;
    for (const p of absPaths(config)) side = settleTree(p, ctx.token, want);
    return side;
  },

  async check(config, file, facts, ctx) {
    const paths = (facts.paths as string[] | undefined) ?? absPaths(config);
    return tarCheck(file, paths.map(member), facts, ctx);
  },
};
