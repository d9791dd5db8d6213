import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** SLIPWAY_HOME, or ~/.slipway. Kept tiny: the CLI imports it on every start. */
export function slipwayHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPWAY_HOME ? resolve(env.SLIPWAY_HOME) : join(homedir(), ".slipway");
}
