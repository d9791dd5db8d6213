/** `slipway init --example NAME`: copy examples/NAME (a runbook turned into a project) here. */
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { parse } from "yaml";
import { UsageError } from "../../core.js";

/** The examples shipped with Slipway: examples/ beside src/ (and beside dist/ once built). */
export const EXAMPLES_DIR = join(import.meta.dirname, "..", "..", "..", "examples");

/** Names of the examples: folders of examples/ holding a slipway.yaml. */
export function exampleNames(dir = EXAMPLES_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, "slipway.yaml")))
    .map((e) => e.name)
    .sort();
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

export interface CopiedExample {
  example: string;
  dir: string;
  files: string[];
  /** Env files made private (0600), as the `env` check asks: git does not keep file modes. */
  private: string[];
  /** The example's first environment (what the next steps name). */
  environment: string;
}

/** The first environment of a slipway.yaml (development when it cannot be read). */
function firstEnvironment(file: string): string {
  try {
    const doc = parse(readFileSync(file, "utf8")) as { environments?: Record<string, unknown> } | null;
    return Object.keys(doc?.environments ?? {})[0] ?? "development";
  } catch {
    return "development";
  }
}

/**
 * Copy examples/NAME into `dest`. An unknown name is a usage error listing the available ones;
 * files that exist are not overwritten unless `force` (the error lists them).
 */
export function copyExample(name: string, dest: string, force = false, root = EXAMPLES_DIR): CopiedExample {
  const names = exampleNames(root);
  if (!names.includes(name)) {
    const e = new UsageError(
      `no example named "${name}"; available: ${names.join(", ") || "(none: examples/ is missing)"}`,
    );
    e.details = { available: names };
    throw e;
  }
  const src = join(root, name);
  const files = filesUnder(src).map((f) => relative(src, f));
  const existing = files.filter((f) => existsSync(join(dest, f)));
  if (existing.length && !force) {
    const e = new UsageError(
      `${existing.length} file(s) of example ${name} already exist here (use --force to overwrite them): ${existing.slice(0, 5).join(", ")}${existing.length > 5 ? ", …" : ""}`,
    );
    e.details = { existing };
    throw e;
  }
  cpSync(src, dest, { recursive: true, force: true });
  const envFiles = files.filter((f) => /^\.env(\.|$)/.test(basename(f)));
  for (const f of envFiles) chmodSync(join(dest, f), 0o600);
  for (const f of files) if (f.endsWith(".sh")) chmodSync(join(dest, f), statSync(join(src, f)).mode | 0o755);
  const environment = firstEnvironment(join(src, "slipway.yaml"));
  return { example: name, dir: dest, files, private: envFiles, environment };
}
