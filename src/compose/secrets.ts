/**
 * Compose `secrets:` to Slipway's secrets as files. A file-based Compose secret becomes an env key
 * whose value Slipway reads from that file at deploy time (`secrets.fromFile`, never stored) and
 * writes into the container as /run/secrets/KEY, with KEY_FILE pointing to it (`secrets.as: files`).
 * A Compose `X_FILE: /run/secrets/name` variable names the key X (the official images' convention).
 */
import { isObj, type Obj } from "./values.js";

/** Top-level secrets by name: a file (relative to the Compose file) or an environment variable. */
export type ComposeSecrets = Map<string, { file: string } | { environment: string }>;

type Skip = (key: string, why: string) => void;

export function composeSecrets(v: unknown, unmapped: string[]): ComposeSecrets {
  const out: ComposeSecrets = new Map();
  if (!isObj(v)) return out;
  for (const [name, s] of Object.entries(v)) {
    if (isObj(s) && typeof s.file === "string") out.set(name, { file: s.file });
    else if (isObj(s) && typeof s.environment === "string") out.set(name, { environment: s.environment });
    else unmapped.push(`secrets.${name}: only file and environment secrets are mapped`);
  }
  return out;
}

/** The top-level secrets no service uses (reported, since nothing is written for them). */
export function unusedSecrets(secrets: ComposeSecrets, used: Set<string>, unmapped: string[]): void {
  for (const name of secrets.keys())
    if (!used.has(name)) unmapped.push(`secrets.${name}: used by no service, not mapped`);
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A service's `secrets:` list into `out.secrets` (and `out.env`). Returns the secret names used. */
export function mapServiceSecrets(list: unknown, out: Obj, secrets: ComposeSecrets, skip: Skip): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    skip("secrets", "not understood");
    return [];
  }
  const env = (out.env ?? {}) as Obj;
  const fromFile: Record<string, string> = {};
  const names: string[] = [];
  const owner: { uid?: number; gid?: number } = {};
  const used: string[] = [];
  list.forEach((entry, i) => {
    const e = typeof entry === "string" ? { source: entry } : isObj(entry) ? entry : {};
    const source = typeof e.source === "string" ? e.source : undefined;
    const secret = source ? secrets.get(source) : undefined;
    if (!source || !secret) return skip(`secrets[${i}]`, `no file or environment secret "${String(source)}"`);
    used.push(source);
    const file = fileName(e.target, source);
    if (!file)
      return skip(`secrets[${i}].target`, `${String(e.target)}: Slipway writes secrets under /run/secrets`);
    const key = keyFor(file, env, (why) => skip(`secrets[${i}]`, why));
    if (!key) return;
    if ("file" in secret) fromFile[key] = secret.file;
    else env[key] = `\${${secret.environment}}`;
    names.push(key);
    for (const k of ["uid", "gid"] as const)
      if (e[k] !== undefined && /^\d+$/.test(String(e[k]))) owner[k] = Number(e[k]);
    if (e.mode !== undefined) skip(`secrets[${i}].mode`, "Slipway writes secret files with mode 0400");
  });
  if (Object.keys(env).length) out.env = env;
  if (names.length)
    out.secrets = { as: "files", names, ...(Object.keys(fromFile).length ? { fromFile } : {}), ...owner };
  return used;
}

/** The file name under /run/secrets (Compose's default target is the secret's name). */
function fileName(target: unknown, source: string): string | undefined {
  if (target === undefined) return source;
  if (typeof target !== "string") return undefined;
  if (!target.startsWith("/")) return target.includes("/") ? undefined : target;
  const m = /^\/run\/secrets\/([^/]+)$/.exec(target);
  return m?.[1];
}

/**
 * The env key whose value is the secret: X when the service sets X_FILE=/run/secrets/<file> (that
 * variable is dropped: Slipway sets it), else the file name when it is a valid key.
 */
function keyFor(file: string, env: Obj, skip: (why: string) => void): string | undefined {
  const viaFile = Object.keys(env).find((k) => k.endsWith("_FILE") && env[k] === `/run/secrets/${file}`);
  if (viaFile) {
    const key = viaFile.slice(0, -"_FILE".length);
    if (key in env) {
      skip(`${key} is set too; keep one of ${key} and ${viaFile}`);
      return undefined;
    }
    delete env[viaFile];
    return key;
  }
  if (ENV_KEY.test(file)) return file;
  const key = file
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, "_")
    .replace(/^(\d)/, "_$1");
  skip(`"${file}" is at /run/secrets/${key} in Slipway (${key}_FILE names it); read it from there`);
  return key;
}
