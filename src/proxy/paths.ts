import { join } from "node:path";
import { SlipwayError } from "../errors.js";

/** Where the proxy keeps its files under SLIPWAY_HOME. */
export function proxyPaths(home: string) {
  const dir = join(home, "proxy");
  return {
    dir,
    socket: join(dir, "control.sock"),
    snapshot: join(dir, "routes.json"),
    pid: join(dir, "proxy.pid"),
    log: join(dir, "proxy.log"),
    spawnLock: join(dir, "spawn.lock"),
    /** ACME account keys and certificates (0700 directory, 0600 files). */
    acme: join(dir, "acme"),
  };
}

/** A control request the proxy refuses; `status` is the HTTP status of the control API. */
export class ProxyControlError extends SlipwayError {
  override name = "ProxyControlError";
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
