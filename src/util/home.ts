import { chmodSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Refused } from "../errors.js";

/** SLIPWAY_HOME, or ~/.slipway. Kept tiny: the CLI imports it on every start. */
export function slipwayHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_HOME ? resolve(env.SLIPWAY_HOME) : join(homedir(), ".slipway");
}

/**
 * SLIPWAY_HOME holds the store, the daemon's socket, backups and logs: it must be this user's
 * alone. Made 0700 when missing; refused (exit 4) when group or others can enter or read it, or
 * when another user owns it — never chmod-ed behind the operator's back.
 */
export function ensurePrivateHome(home: string): void {
  let st;
  try {
    st = statSync(home);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(home, { recursive: true, mode: 0o700 });
    chmodSync(home, 0o700); // whatever the umask
    return;
  }
  if (!st.isDirectory()) throw new Refused(`SLIPWAY_HOME ${home} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new Refused(
      `SLIPWAY_HOME ${home} belongs to uid ${st.uid}, not to this user (uid ${uid}): it holds the store, the daemon's socket and backups; use a directory of your own`,
    );
  const open = st.mode & 0o077;
  if (open)
    throw new Refused(
      `SLIPWAY_HOME ${home} is accessible to ${open & 0o070 ? (open & 0o007 ? "its group and others" : "its group") : "others"} (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}): it holds the store, the daemon's socket and backups; run: chmod 700 ${home}`,
    );
}
