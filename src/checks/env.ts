/**
 * `env`: required variables present, long enough and not placeholders; env files present and
 * private (no group/other permissions). Evidence names variables and files, never values.
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseDotenv } from "../spec/dotenv.js";
import type { EnvCheckSpec } from "../spec/schema-checks.js";
import { failed, passed, type CheckOutcome, type CheckRun } from "./types.js";

/** Values people leave in templates: CHANGE_THIS, changeme, your-api-key, xxx, <token>, TODO. */
export const DEFAULT_PLACEHOLDERS: readonly string[] = [
  "change[_-]?(this|me)",
  "^your[-_]",
  "^x{3,}$",
  "^<[^>]*>$",
  "^(todo|fixme|replace[-_ ]?me|placeholder)$",
];

export async function envCheck(spec: EnvCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  const patterns = [...DEFAULT_PLACEHOLDERS, ...(spec.placeholders ?? [])].map((p) => new RegExp(p, "i"));
  const isPlaceholder = (v: string) => patterns.find((re) => re.test(v.trim()));
  const problems: string[] = [];
  const fileVars: Record<string, string> = {};
  const files: { file: string; mode?: string; ok: boolean }[] = [];

  for (const f of spec.files ?? []) {
    const path = resolve(run.ctx.cwd, f);
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      problems.push(`${f}: file not found (${path})`);
      files.push({ file: f, ok: false });
      continue;
    }
    const octal = `0${mode.toString(8).padStart(3, "0")}`;
    let ok = true;
    if (mode & 0o077) {
      problems.push(`${f}: readable by group/others (mode ${octal}); run: chmod 600 ${f}`);
      ok = false;
    }
    try {
      const vars = parseDotenv(readFileSync(path, "utf8"));
      for (const [k, v] of Object.entries(vars)) {
        fileVars[k] ??= v;
        const re = isPlaceholder(v);
        if (re) {
          problems.push(`${f}: ${k} holds a placeholder value (matches /${re.source}/i)`);
          ok = false;
        }
      }
    } catch (e) {
      problems.push(`${f}: ${(e as Error).message}`);
      ok = false;
    }
    files.push({ file: f, mode: octal, ok });
  }

  const names = [...new Set([...spec.required, ...Object.keys(spec.minLength ?? {})])];
  for (const name of names) {
    const value = run.ctx.vars[name] ?? fileVars[name];
    if (value === undefined || value === "") {
      if (spec.required.includes(name)) problems.push(`${name} is not set`);
      continue;
    }
    const re = isPlaceholder(value);
    // A file's placeholder was reported with the file already.
    if (re && !(run.ctx.vars[name] === undefined && fileVars[name] !== undefined)) {
      problems.push(`${name} holds a placeholder value (matches /${re.source}/i)`);
    }
    const min = spec.minLength?.[name];
    if (min !== undefined && value.length < min) {
      problems.push(`${name} is ${value.length} characters long, needs at least ${min}`);
    }
  }

  const details = { variables: names, files, problems };
  if (problems.length) return failed(problems.join("\n"), details);
  const parts = [`${names.length} variable(s) set`];
  if (names.length && names.length <= 6) parts[0] += ` (${names.join(", ")})`;
  if (files.length)
    parts.push(`${files.length} env file(s) private (${files.map((f) => f.mode).join(", ")})`);
  return passed(parts.join("; ") + ", no placeholders", details);
}
