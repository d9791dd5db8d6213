/** Slipway's own version, from package.json (two folders up from src/cli and from dist/cli). */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function slipwayVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
  ).version;
  return cached;
}
