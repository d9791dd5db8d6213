/**
 * Secrets with a lifetime (the `secretAge` check, `slipway secrets ENV`). For each secret name
 * Slipway records when it first saw the current value — as an HMAC-SHA-256 under SLIPWAY_HOME's
 * own key (util/home-key.ts), never the value — in the store's meta area. A new value (rotated)
 * starts a new age. Where a value comes from is said by name only: an env file's path, the
 * caller's environment, or the spec itself.
 */
import { createHmac } from "node:crypto";
import { relative } from "node:path";
import { secretAgeRow, type SecretAgeRow } from "../checks/secret-age.js";
import type { SecretAges } from "../checks/types.js";
import type { Resolution } from "../spec/resolve.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { SecretAgeCheckSpec } from "../spec/schema-checks.js";
import { homeKey } from "../util/home-key.js";
import type { EngineDeps } from "./context.js";

interface SeenEntry {
  /** HMAC-SHA-256 of the value under the home key. */
  hash: string;
  firstSeen: string;
  lastSeen: string;
  source: string;
  /** When the value before this one was first seen (it was rotated at `firstSeen`). */
  previousFirstSeen?: string;
}
type SeenRecord = Record<string, SeenEntry>;

const key = (project: string, env: string) => `secrets/${project}/${env}`;

/** Where a secret's value comes from, and the value (never stored, never returned to a client). */
export function secretSources(resolution: Resolution): Map<string, { value: string; source: string }> {
  const { spec, snapshot, secrets, vars } = resolution;
  const rel = (f: string) => relative(spec.dir, f) || f;
  const out = new Map<string, { value: string; source: string }>();
  const fileOf = (name: string): string | undefined => {
    const ref = snapshot.envFileRefs?.[name];
    if (ref) return `envFile ${rel(ref.file)}`;
    for (const svc of Object.values(snapshot.services)) {
      const r = svc.envFileRefs?.[name];
      if (r) return `${r.whole ? "file" : "envFile"} ${rel(r.file)}`;
    }
    return undefined;
  };
  for (const [name, value] of secrets) {
    const source = fileOf(name) ?? (vars[name] !== undefined ? "caller environment" : inSpec(spec, name));
    out.set(name, { value, source });
  }
  // Names a secretAge check asks about that are not secrets by Slipway's own rules.
  for (const c of spec.checks as { kind: string; maxAge?: Record<string, number> }[]) {
    if (c.kind !== "secretAge") continue;
    for (const name of Object.keys(c.maxAge ?? {})) {
      if (out.has(name)) continue;
      const fromSpec = Object.values(spec.services).find((s) => s.env[name] !== undefined);
      const value = vars[name] ?? fromSpec?.env[name];
      if (value !== undefined && value !== "")
        out.set(name, {
          value,
          source: fileOf(name) ?? (vars[name] !== undefined ? "caller environment" : inSpec(spec, name)),
        });
    }
  }
  return out;
}

function inSpec(spec: ResolvedSpec, name: string): string {
  const svc = Object.values(spec.services).find((s) => s.env[name] !== undefined);
  return svc ? `spec (services.${svc.name}.env)` : "spec";
}

/**
 * Record the current values of `names` (all secrets when absent) and return, per name, when its
 * value was first seen. A name without a value here keeps what was recorded before.
 */
export async function observeSecrets(
  deps: EngineDeps,
  resolution: Resolution,
  names?: readonly string[],
  now = new Date(),
): Promise<Record<string, { firstSeen: string; source: string } | undefined>> {
  const { project, env } = resolution.spec;
  const sources = secretSources(resolution);
  const wanted = names ?? [...sources.keys()];
  const raw = await deps.store.getMeta(key(project, env));
  const rec = (raw ? JSON.parse(raw) : {}) as SeenRecord;
  const mac = homeKey(deps.home);
  const at = now.toISOString();
  let changed = false;
  for (const name of wanted) {
    const s = sources.get(name);
    if (!s) continue;
    const hash = createHmac("sha256", mac).update(`${name}\0${s.value}`).digest("hex");
    const was = rec[name];
    if (was?.hash === hash) rec[name] = { ...was, lastSeen: at, source: s.source };
    else
      rec[name] = {
        hash,
        firstSeen: at,
        lastSeen: at,
        source: s.source,
        ...(was ? { previousFirstSeen: was.firstSeen } : {}),
      };
    changed = true;
  }
  if (changed) await deps.store.setMeta(key(project, env), JSON.stringify(rec));
  return Object.fromEntries(
    wanted.map((n) => [n, rec[n] ? { firstSeen: rec[n].firstSeen, source: rec[n].source } : undefined]),
  );
}

/** The `secretAges` a check run gets: observe, then answer (engine → checks/ contract). */
export function secretAgesFor(deps: EngineDeps, resolution: Resolution): SecretAges {
  return (names) => observeSecrets(deps, resolution, names);
}

export interface SecretListing {
  project: string;
  env: string;
  secrets: (Omit<SecretAgeRow, "maxAgeDays" | "daysLeft" | "state"> & {
    maxAgeDays?: number;
    daysLeft?: number;
    state: SecretAgeRow["state"] | "no limit" | "no value";
    previousFirstSeen?: string;
  })[];
}

/** `slipway secrets ENV`: every secret's name, source and age (and limit, from secretAge checks). */
export async function listSecrets(
  deps: EngineDeps,
  resolution: Resolution,
  now = new Date(),
): Promise<SecretListing> {
  const { spec } = resolution;
  const limits: Record<string, number> = {};
  for (const c of spec.checks as SecretAgeCheckSpec[])
    if (c.kind === "secretAge") Object.assign(limits, c.maxAge);
  const names = [...new Set([...secretSources(resolution).keys(), ...Object.keys(limits)])].sort();
  const seen = await observeSecrets(deps, resolution, names, now);
  const raw = await deps.store.getMeta(key(spec.project, spec.env));
  const rec = (raw ? JSON.parse(raw) : {}) as SeenRecord;
  const rows: SecretListing["secrets"] = names.map((name) => {
    const s = seen[name];
    if (!s) return { name, source: "-", firstSeen: "", ageDays: 0, state: "no value" as const };
    const prev = rec[name]?.previousFirstSeen ? { previousFirstSeen: rec[name].previousFirstSeen } : {};
    if (limits[name] !== undefined) return { ...secretAgeRow(name, s, limits[name], now), ...prev };
    const row = secretAgeRow(name, s, Number.POSITIVE_INFINITY, now);
    return {
      name,
      source: row.source,
      firstSeen: row.firstSeen,
      ageDays: row.ageDays,
      state: "no limit" as const,
      ...prev,
    };
  });
  return { project: spec.project, env: spec.env, secrets: rows };
}
