/**
 * Whether the CLI paints, and with what. The codes come from picocolors; the decision is ours
 * because progress goes to stderr (picocolors looks at stdout) and the command line has its own
 * `--no-color`. Order: `--no-color`, then NO_COLOR (https://no-color.org), then FORCE_COLOR
 * (set and not 0/false forces colours into a pipe), then "is stderr a terminal".
 */
import { createRequire } from "node:module";
import type picocolors from "picocolors";
export type Palette = Record<"green" | "red" | "yellow" | "dim" | "bold", (s: string) => string>;

export function colourWanted(
  noColorFlag: boolean,
  env: NodeJS.ProcessEnv = process.env,
  stream: { isTTY?: boolean } = process.stderr,
): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  return !!stream.isTTY && env.TERM !== "dumb";
}

const plain = (s: string) => s;
const PLAIN: Palette = { green: plain, red: plain, yellow: plain, dim: plain, bold: plain };

/** picocolors is loaded only when colours are on: a plain run starts with commander and yaml only. */
export function palette(enabled: boolean): Palette {
  if (!enabled) return PLAIN;
  const pc = createRequire(import.meta.url)("picocolors") as typeof picocolors;
  return pc.createColors(true);
}
