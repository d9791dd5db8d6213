/**
 * The variables of one environment (its env files, then the caller's environment) and the
 * interpolation of the whole spec tree with them, remembering which variables were used.
 */
import { existsSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import type { SpecIssue } from "../errors.js";
import { readDotenv } from "./dotenv.js";
import { interpolate, InterpolationError } from "./interpolate.js";
import type { LoadedSpec, PathSegment } from "./load.js";
import { shellSecretProblem } from "./shell-fields.js";
import { coerce, walk } from "./tree.js";

type At = (path: PathSegment[], message: string) => SpecIssue;

/** The values of an environment's `envFile`s (later files win). */
export function environmentFileVars(
  loaded: LoadedSpec,
  env: string,
  envRaw: Record<string, unknown>,
  lenient: boolean,
  issues: SpecIssue[],
  at: At,
  /** Filled with variable → the file that gave it (the last one, as later files win). */
  origins?: Map<string, string>,
): Record<string, string> {
  const fileVars: Record<string, string> = {};
  const envFiles = envRaw.envFile === undefined ? [] : ([] as unknown[]).concat(envRaw.envFile);
  envFiles.forEach((f, i) => {
    if (typeof f !== "string") return;
    const p = resolvePath(loaded.dir, f);
    const where: PathSegment[] = Array.isArray(envRaw.envFile)
      ? ["environments", env, "envFile", i]
      : ["environments", env, "envFile"];
    if (!existsSync(p)) {
      if (!lenient) issues.push(at(where, `env file not found: ${p}`));
      return;
    }
    try {
      const values = readDotenv(p);
      Object.assign(fileVars, values);
      for (const k of Object.keys(values)) origins?.set(k, p);
    } catch (e) {
      issues.push(at(where, `cannot parse ${f}: ${(e as Error).message}`));
    }
  });
  return fileVars;
}

/**
 * Interpolate every string of `tree`. Issues are reported at the file position of the path
 * (`at` maps it); a ${VAR} in a field run by a shell is one of them. `unset` gets, for each
 * string that used variables not set (or empty), its path and their names: a schema error
 * there (`required`) is explained by them.
 */
export function interpolateTree(
  tree: unknown,
  vars: Record<string, string | undefined>,
  lenient: boolean,
  at: At,
  issues: SpecIssue[],
  unset?: (path: PathSegment[], names: string[]) => void,
): { value: unknown; used: Set<string> } {
  const used = new Set<string>();
  const value = walk(tree, [], (text, path) => {
    try {
      const r = interpolate(text, vars, { strict: !lenient });
      for (const v of r.vars) used.add(v);
      const missing = r.vars.filter((v) => !vars[v]);
      if (missing.length && unset && !r.value.trim()) unset(path, missing);
      const unsafe = shellSecretProblem(path, r.vars);
      if (unsafe) issues.push(at(path, unsafe));
      if (r.vars.length && r.value !== text) return coerce(r.value);
      return r.value;
    } catch (e) {
      if (!(e instanceof InterpolationError)) throw e;
      issues.push(at(path, e.message));
      return "";
    }
  });
  return { value, used };
}
