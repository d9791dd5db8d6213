/** The build context handed to the engine: every file under the context dir (.dockerignore applies). */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { DriverError } from "../../errors.js";

export function contextFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DriverError("docker", `build context ${dir} is not a directory`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".git" && d === dir) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

export function contextDir(servicePath: string, context: string): string {
  return resolve(servicePath, context);
}
