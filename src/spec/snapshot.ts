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
  const fromFiles = envFileValues(snapshot);
  const all = fromFiles ? { ...vars, ...fromFiles } : vars;
  return walk(snapshot, [], (s) => interpolate(s, all, { strict: false }).value) as T;
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
): ResolvedSpec {
  const snapshot = redact(spec, secrets) as ResolvedSpec;
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
 * now). They win over the caller's variables: a reference is named after the file's key, which
 * may well also be set, to something else, in the daemon's own environment (HOME, PORT, …).
 * A file that is gone or unreadable leaves its references to the caller's variables.
 */
function envFileValues(snapshot: unknown): Record<string, string> | undefined {
  const services = (snapshot as { services?: Record<string, Partial<ResolvedService>> } | null)?.services;
  if (!services || typeof services !== "object") return undefined;
  let out: Record<string, string> | undefined;
  const files = new Map<string, Record<string, string> | undefined>();
  for (const svc of Object.values(services)) {
    for (const [ref, { file, key, whole }] of Object.entries(svc?.envFileRefs ?? {})) {
      if (whole) {
        const v = readSecretFile(file);
        if (v !== undefined) (out ??= {})[ref] = v;
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
      if (v !== undefined) (out ??= {})[ref] = v;
    }
  }
  return out;
}
