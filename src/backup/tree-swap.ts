/**
 * Restoring a directory tree (files backups, Docker volumes) by rename: the archive's member is
 * extracted into a sibling staging directory `.slipway-restore-<token>-<name>` (same
 * filesystem), then the live path is renamed to `<staging>/old` and the staged tree to the live
 * path. Marker files in the staging directory (`staged`, `absent`) let settle finish or undo a
 * swap a crash cut between its two renames.
 */
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { run } from "./exec.js";
import type { RestoreSide } from "./provider.js";

export function stagingDir(abs: string, token: string): string {
  return join(dirname(abs), `.slipway-restore-${token}-${basename(abs)}`);
}

function present(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Extract `member` of the tar.gz `file` beside `abs`; `extracted` is where the member lands
 * relative to the extraction root (the member itself unless it ends in "/.").
 */
export async function stageTree(
  file: string,
  member: string,
  abs: string,
  token: string,
  extracted = member,
): Promise<void> {
  const st = stagingDir(abs, token);
  rmSync(st, { recursive: true, force: true });
  mkdirSync(join(st, "x"), { recursive: true, mode: 0o700 });
  await run("tar", ["--extract", "--gzip", `--file=${file}`, "-C", join(st, "x"), "--", member]);
  renameSync(join(st, "x", extracted), join(st, "new"));
  if (!present(abs)) writeFileSync(join(st, "absent"), "");
  // Written last: the stage finished.
  writeFileSync(join(st, "staged"), "");
}

export function swapTree(abs: string, token: string): void {
  const st = stagingDir(abs, token);
  if (!existsSync(join(st, "staged"))) throw new Error(`nothing staged for ${abs}`);
  if (!present(join(st, "new"))) return; // already swapped
  mkdirSync(dirname(abs), { recursive: true });
  if (present(abs) && !present(join(st, "old"))) renameSync(abs, join(st, "old"));
  renameSync(join(st, "new"), abs);
}

/** Make `want` the live tree where possible, drop the staging directory; which one is live. */
export function settleTree(abs: string, token: string, want: RestoreSide): RestoreSide {
  const st = stagingDir(abs, token);
  if (!existsSync(st)) return want;
  const staged = existsSync(join(st, "staged"));
  const newHere = present(join(st, "new"));
  const oldHere = present(join(st, "old"));
  let side: RestoreSide;
  if (want === "new" && staged) {
    if (newHere) swapTree(abs, token);
    side = "new";
  } else if (staged && !newHere) {
    // Swapped: the live path holds the restored tree; put the previous one back.
    if (present(abs)) renameSync(abs, join(st, "discard"));
    if (oldHere) renameSync(join(st, "old"), abs);
    side = "old";
  } else {
    // Not swapped, or cut between the two renames: the previous tree goes back in place.
    if (oldHere && !present(abs)) renameSync(join(st, "old"), abs);
    side = "old";
  }
  rmSync(st, { recursive: true, force: true });
  return side;
}
