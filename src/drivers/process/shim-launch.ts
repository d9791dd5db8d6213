/**
 * Launching an instance's supervisor ("shim", shim/main.ts): detached, so it outlives the
 * daemon; its configuration (secrets included) goes through a pipe that closes right after.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DriverError } from "../../errors.js";
import { pidAlive } from "../../util/pid.js";
import { sleep } from "../../util/sleep.js";
import { NAME } from "./layout.js";
import { tailLines } from "./log-reader.js";
import { SHIM_LOG, readState, type ShimConfig, type ShimState } from "./state.js";

/** How to start the shim: through tsx when running from sources (tests, tsx), plain node when built. */
export function shimEntry(): { args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const dir = dirname(here);
  if (here.endsWith(".ts")) {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return { args: ["--import", pathToFileURL(tsx).href, join(dir, "shim", "main.ts")] };
  }
  return { args: [join(dir, "shim", "main.js")] };
}

/** Spawns the shim for an instance directory; returns its pid once it is running. */
export async function spawnShim(dir: string, cfg: ShimConfig): Promise<number> {
  const { args } = shimEntry();
  const shimEnv: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "TZ", "NODE_EXTRA_CA_CERTS"]) {
    const v = process.env[k];
    if (v !== undefined) shimEnv[k] = v;
  }
  const errFd = openSync(join(dir, SHIM_LOG), "a", 0o600);
  let child;
  try {
    child = spawn(process.execPath, args, {
      cwd: dir,
      env: shimEnv,
      detached: true,
      stdio: ["pipe", "ignore", errFd],
    });
  } finally {
    closeSync(errFd);
  }
  const pid = await new Promise<number>((resolve, reject) => {
    child.once("spawn", () => resolve(child.pid as number));
    child.once("error", (e) => reject(new DriverError(NAME, `could not start the supervisor: ${e.message}`)));
  });
  child.stdin?.on("error", () => {});
  child.stdin?.end(JSON.stringify(cfg));
  child.unref();
  return pid;
}

/** Waits until the shim reports the application spawned (or that it could not). */
export async function waitStarted(
  dir: string,
  shimPid: number,
  id: string,
  timeoutMs: number,
): Promise<ShimState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = readState(dir);
    if (s && s.shimPid === shimPid && (s.appPid !== undefined || s.state !== "starting")) return s;
    if (!pidAlive(shimPid)) {
      throw new DriverError(NAME, `instance ${id}: the supervisor exited at start${shimLogTail(dir)}`);
    }
    if (Date.now() > deadline)
      throw new DriverError(
        NAME,
        `instance ${id}: the supervisor did not report within ${timeoutMs} ms${shimLogTail(dir)}`,
      );
    await sleep(25);
  }
}

function shimLogTail(dir: string): string {
  const lines = tailLines([join(dir, SHIM_LOG)], { tail: 5 }).map((p) => p.line);
  return lines.length ? `:\n${lines.join("\n")}` : "";
}
