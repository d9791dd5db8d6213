/**
 * What a revision stores: the resolved spec with every secret value replaced by a ${NAME}
 * template (redact), and the way back (rehydrate) when the revision is applied again.
 */
import { readDotenv } from "./dotenv.js";
import { interpolate } from "./interpolate.js";
import type { EnvFileRef, ResolvedService, ResolvedSpec } from "./resolved.js";
import { readSecretFile } from "./secret-file.js";
import type { FileSource } from "./services.js";
import { walk } from "./tree.js";
import { MIN_ANYWHERE, shortValuePattern } from "../util/redact.js";

/** Replace secret values by their ${NAME} template, so a snapshot can be stored and re-hydrated. */
export function redact(value: unknown, secrets: Map<string, string>): unknown {
  const entries = [...secrets.entries()].sort((a, b) => b[1].length - a[1].length);
  return walk(value, [], (s) => {
    let out = s.replace(/\$\{/g, () => "$${");
    for (const [name, v] of entries) {
      if (out === v) return `\${${name}}`;
      if (v.length >= MIN_ANYWHERE) {
        if (out.includes(v)) out = out.split(v).join(`\${${name}}`);
      } else {
        // A short value only where a secret sits (a URL's password, NAME=value): the same rule
        // as the redactor's, so a snapshot never holds what the redactor would hide.
        out = out.replace(shortValuePattern([v]), (_m, before: string) => `${before}\${${name}}`);
      }
    }
    return out;
  });
}

/** Inverse of redact(): fill ${NAME} templates of a stored snapshot from current variables. */
export function rehydrate<T>(snapshot: T, vars: Record<string, string | undefined>): T {
  return rehydrateChecked(snapshot, vars).value;
}

/**
 * rehydrate(), saying which references had no value (neither in `vars` nor in the env files the
 * snapshot recorded): a caller that runs the result refuses rather than start with empty values.
 */
export function rehydrateChecked<T>(
  snapshot: T,
  vars: Record<string, string | undefined>,
): { value: T; missing: string[] } {
  const fromFiles = envFileValues(snapshot);
  const all: Record<string, string | undefined> = { ...fromFiles.env, ...vars, ...fromFiles.services };
  const defaults = (snapshot as { varDefaults?: ResolvedSpec["varDefaults"] }).varDefaults ?? {};
  for (const [n, d] of Object.entries(defaults))
    if (all[n] === undefined || (d.empty && all[n] === "")) all[n] = d.value;
  const missing = new Set<string>();
  const value = walk(snapshot, [], (s) => {
    const r = interpolate(s, all, { strict: false });
    for (const n of r.vars) if (all[n] === undefined) missing.add(n);
    return r.value;
  }) as T;
  return { value, missing: [...missing].sort() };
}

/**
 * The snapshot of a resolved spec: values of `secrets` templated, and every value a service env
 * file gave templated too (whatever its name), with the file it came from recorded.
 * `fromFiles`: per service, env key → the env file that gave it. Adds to `secrets`.
 */
export function snapshotOf(
  spec: ResolvedSpec,
  secrets: Map<string, string>,
  fromFiles: Map<string, Map<string, FileSource>>,
  envRefs: Map<string, EnvFileRef> = new Map(),
): ResolvedSpec {
  const snapshot = redact(spec, secrets) as ResolvedSpec;
  // Environment env files, recorded like service ones: a daemon re-reads them, never guesses.
  if (envRefs.size) snapshot.envFileRefs = Object.fromEntries(envRefs);
  for (const [name, keys] of fromFiles) templateEnvFileValues(spec, snapshot, name, keys, secrets);
  // The keys whose values the snapshot had to template are the secret ones (secrets.as: files).
  for (const [name, svc] of Object.entries(spec.services)) {
    const stored = snapshot.services[name]?.env ?? {};
    const keys = Object.keys(svc.env).filter((k) => stored[k] !== svc.env[k]);
    if (!keys.length) continue;
    (svc as { secretEnv?: string[] }).secretEnv = keys;
    (snapshot.services[name] as { secretEnv?: string[] }).secretEnv = keys;
  }
  return snapshot;
}

/**
 * The snapshot keeps a ${NAME} reference in place of each env-file value, re-hydrated from the
 * secrets when the revision is re-applied. Placed by position, not by value, so a short value
 * ("1") never rewrites unrelated strings.
 */
function templateEnvFileValues(
  spec: ResolvedSpec,
  snapshot: ResolvedSpec,
  name: string,
  keys: Map<string, FileSource>,
  secrets: Map<string, string>,
): void {
  const env = snapshot.services[name]?.env as Record<string, string> | undefined;
  const refs: Record<string, EnvFileRef> = {};
  for (const [k, { file, whole }] of keys) {
    const v = spec.services[name]?.env[k];
    if (!env || v === undefined || v === "") continue;
    let ref = k;
    for (let n = 2; secrets.has(ref) && secrets.get(ref) !== v; n++) ref = `${k}_${n}`;
    secrets.set(ref, v);
    env[k] = `\${${ref}}`;
    refs[ref] = { file, key: k, ...(whole ? { whole } : {}) };
  }
  // Where each reference came from: a daemon that restarts without the deploying CLI's values
  // re-reads the env files (rehydrate), instead of starting instances with empty variables.
  if (Object.keys(refs).length) (snapshot.services[name] as ResolvedService).envFileRefs = refs;
}

/**
 * The values of a stored snapshot's env-file references, read again from the files (as they are
 * now). A service's refs win over the caller's variables: a reference is named after the file's
 * key, which may well also be set, to something else, in the caller's environment (HOME, PORT, …).
 * The environment's refs only fill what the caller did not give (its resolution read the same
 * files). A file that is gone or unreadable leaves its references to the caller's variables.
 */
function envFileValues(snapshot: unknown): { env: Record<string, string>; services: Record<string, string> } {
  const spec = snapshot as { services?: Record<string, Partial<ResolvedService>> } & Pick<
    ResolvedSpec,
    "envFileRefs"
  >;
  const services = spec?.services;
  const files = new Map<string, Record<string, string> | undefined>();
  if (!services || typeof services !== "object") return { env: {}, services: {} };
  return {
    env: readRefs([spec.envFileRefs], files),
    services: readRefs(
      Object.values(services).map((s) => s?.envFileRefs),
      files,
    ),
  };
}

function readRefs(
  list: (Record<string, EnvFileRef> | undefined)[],
  files: Map<string, Record<string, string> | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const refs of list) {
    for (const [ref, { file, key, whole }] of Object.entries(refs ?? {})) {
      if (whole) {
        const v = readSecretFile(file);
        if (v !== undefined) out[ref] = v;
        continue;
      }
      if (!files.has(file)) {
        try {
          files.set(file, readDotenv(file));
        } catch {
          files.set(file, undefined);
        }
      }
      const v = files.get(file)?.[key];
      if (v !== undefined) out[ref] = v;
    }
  }
  return out;
}
