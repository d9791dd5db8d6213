/**
 * resolve(): UserSpec + environment name + variables → frozen ResolvedSpec, plus the
 * snapshot stored with a revision (secret values replaced by their ${VAR} templates).
 * The steps live beside it: variables.ts (env files, interpolation), services.ts (per-service
 * rules and defaults), snapshot.ts (redact / rehydrate).
 */
import { SpecError, type SpecIssue } from "../errors.js";
import { zodIssuesToSpecIssues } from "./issues.js";
import type { LoadedSpec, PathSegment } from "./load.js";
import type { EnvFileRef, ResolvedSpec } from "./resolved.js";
import { specSchema } from "./schema.js";
import { didYouMean } from "./suggest.js";
import { checkVersionLabel, environmentNameProblem } from "./names.js";
import { buildResolved, type FileSource } from "./services.js";
import { snapshotOf } from "./snapshot.js";
import { deepFreeze, deepMerge, getIn, isObj } from "./tree.js";
import { environmentFileVars, interpolateTree } from "./variables.js";
import { checkMerge } from "./schema-checks.js";
import { analysisPath, mergeAnalysis, mergeByName, overridePath } from "./merge-by-name.js";
import { defaultMetricsInput } from "./schema-analysis.js";

export { redact, rehydrate } from "./snapshot.js";

export interface ResolveOptions {
  env: string;
  version?: string;
  /** Variables for interpolation (default process.env); they override env files. */
  vars?: Record<string, string | undefined>;
  /** Lenient mode (validate without an environment's secrets): missing required vars are empty. */
  lenient?: boolean;
  /**
   * stop/destroy: env files, secret files and TLS pairs need not exist (nor match) — taking an
   * environment down must not wait on the files its deploy needed. Variables stay strict.
   */
  lenientFiles?: boolean;
}

export interface Resolution {
  spec: ResolvedSpec;
  /** The resolved spec with secret values replaced by ${VAR} templates: safe to store. */
  snapshot: ResolvedSpec;
  /** Name → value of every variable a secret may come from (for redaction elsewhere). */
  secrets: Map<string, string>;
  /**
   * The variables checks may look at: the env files' and, from the caller's environment, those the
   * spec references or an `env` check requires. Never stored.
   */
  vars: Record<string, string>;
}

/** Variables that are not secret: the release label (its grammar is checked). */
const NON_SECRET_VARS = new Set(["VERSION"]);

/** Env keys of service env files treated as secret by name even when the spec gives them. */
const SECRET_KEY = /SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL/i;

export function resolveSpec(loaded: LoadedSpec, opts: ResolveOptions): Resolution {
  if (opts.version !== undefined) checkVersionLabel(opts.version);
  const issues: SpecIssue[] = [];
  const at = (path: PathSegment[], message: string): SpecIssue => ({
    file: loaded.file,
    ...loaded.locate(path),
    path: path.join("."),
    message,
  });
  const envRaw = selectEnvironment(loaded, opts.env, at);
  const raw = loaded.raw as Record<string, unknown>;
  const lenient = !!opts.lenient;
  const lenientFiles = lenient || !!opts.lenientFiles;
  const origins = new Map<string, string>();
  const fileVars = environmentFileVars(loaded, opts.env, envRaw, lenientFiles, issues, at, origins);
  const version = opts.version ?? "dev";
  const vars = { ...fileVars, ...(opts.vars ?? process.env), VERSION: version };
  const merged = overlay(raw, envRaw, opts.env, issues, at);
  const mapPath = mergeEnvironmentLists(loaded, opts.env, merged, envRaw, issues, at);
  const atMapped = (path: PathSegment[], message: string) => at(mapPath(path), message);
  // Values made of unset variables, located only when the schema refuses something.
  const unsetAt: [PathSegment[], string[]][] = [];
  const noteUnset = (path: PathSegment[], names: string[]) => unsetAt.push([path, names]);
  const { value, used } = interpolateTree(merged, vars, lenient, atMapped, issues, noteUnset);
  if (issues.length) throw new SpecError(issues);

  const parsed = specSchema.safeParse(value, { reportInput: true }); // wrong type vs missing
  if (!parsed.success) {
    const unset = new Map(unsetAt.map(([path, names]) => [mapPath(path).join("."), names]));
    throw new SpecError(
      zodIssuesToSpecIssues(specSchema, parsed.error.issues, loaded, mapPath).map((i) =>
        explainUnset(i, unset),
      ),
    );
  }
  const fromFiles = new Map<string, Map<string, FileSource>>();
  const spec = buildResolved(parsed.data, {
    loaded,
    envName: opts.env,
    version,
    issues,
    mapPath,
    lenient: lenientFiles,
    fromFiles,
  });
  if (issues.length) throw new SpecError(issues);

  const secretNames = [...used].filter((n) => !NON_SECRET_VARS.has(n));
  const secrets = secretValues(secretNames, vars, spec);
  const callerVars = opts.vars ?? process.env;
  // A secret the caller did not override came from an environment env file: re-read from there.
  const envRefs = new Map<string, EnvFileRef>();
  for (const n of secrets.keys()) {
    const file = origins.get(n);
    if (file && callerVars[n] === undefined) envRefs.set(n, { file, key: n });
  }
  const snapshot = snapshotOf(spec, secrets, fromFiles, envRefs);
  const defaults = varDefaults(loaded.text, secrets);
  if (Object.keys(defaults).length) snapshot.varDefaults = defaults;
  const wanted = new Set([...secretNames, ...requiredByChecks(spec.checks)]);
  const checkVars: Record<string, string> = { ...fileVars };
  for (const n of wanted) {
    const v = callerVars[n];
    if (v !== undefined) checkVars[n] = v;
  }
  return { spec: deepFreeze(spec), snapshot, secrets, vars: checkVars };
}

/** A schema error on a value made of variables that are not set says so (`port: ${API_PORT}`). */
function explainUnset(issue: SpecIssue, unset: Map<string, string[]>): SpecIssue {
  const names = unset.get(issue.path);
  if (!names || issue.message.startsWith("unknown key")) return issue;
  const list = names.map((n) => `\${${n}}`).join(", ");
  return {
    ...issue,
    message: `${issue.message} (${list} ${names.length > 1 ? "are" : "is"} not set or empty)`,
    unset: names,
  };
}

/** The raw mapping of the selected environment, or a located SpecError saying what is wrong. */
function selectEnvironment(
  loaded: LoadedSpec,
  env: string,
  at: (path: PathSegment[], message: string) => SpecIssue,
): Record<string, unknown> {
  const raw = loaded.raw;
  if (!isObj(raw))
    throw new SpecError([at([], "expected a mapping with project, environments and services")]);
  if (!isObj(raw.environments))
    throw new SpecError([at(["environments"], "required: a mapping of environments")]);
  const envs = raw.environments;
  const envRaw = envs[env];
  if (!isObj(envRaw)) {
    const defined = Object.keys(envs);
    throw new SpecError([
      at(
        ["environments"],
        `no environment "${env}"${didYouMean(env, defined)}; defined: ${defined.join(", ") || "none"}`,
      ),
    ]);
  }
  const t = envRaw.target;
  const kind = typeof t === "string" ? t : isObj(t) && typeof t.kind === "string" ? t.kind : undefined;
  const problem = environmentNameProblem(env, kind);
  if (problem) throw new SpecError([{ ...at(["environments", env], problem), ...keyPosition(loaded, env) }]);
  return envRaw;
}

/** The position of the environment's name (its key), which is what the message is about. */
function keyPosition(loaded: LoadedSpec, env: string): { line?: number; column?: number } {
  return loaded.locate(["environments", env], true) ?? {};
}

/** The selected environment's service overrides merged over the services. */
function overlay(
  raw: Record<string, unknown>,
  envRaw: Record<string, unknown>,
  env: string,
  issues: SpecIssue[],
  at: (path: PathSegment[], message: string) => SpecIssue,
): Record<string, unknown> {
  const services = isObj(raw.services) ? raw.services : {};
  const overrides = isObj(envRaw.services) ? envRaw.services : {};
  for (const name of Object.keys(overrides)) {
    if (!(name in services))
      issues.push(
        at(
          ["environments", env, "services", name],
          `no service "${name}"${didYouMean(name, Object.keys(services))}`,
        ),
      );
  }
  const mergedServices: Record<string, unknown> = {};
  for (const [name, svc] of Object.entries(services)) mergedServices[name] = deepMerge(svc, overrides[name]);
  return { ...raw, environments: { [env]: envRaw }, services: mergedServices };
}

/**
 * The environment's `rules`, `checks` and `analysis` merged into `merged` (by name over the top
 * level's); returns where a path of `merged` lives in the file (the environment's entry when it
 * sets the key).
 */
function mergeEnvironmentLists(
  loaded: LoadedSpec,
  env: string,
  merged: Record<string, unknown>,
  envRaw: Record<string, unknown>,
  issues: SpecIssue[],
  at: (path: PathSegment[], message: string) => SpecIssue,
): (path: PathSegment[]) => PathSegment[] {
  const raw = loaded.raw as Record<string, unknown>;
  const rules = mergeByName(raw.rules, envRaw.rules);
  if (rules.list !== undefined) merged.rules = rules.list;
  const checks = mergeByName(raw.checks, envRaw.checks, { merge: checkMerge, dropDisabled: true });
  if (checks.list !== undefined) merged.checks = checks.list;
  const envPath = ["environments", env];
  unknownDisabled(
    raw.checks,
    envRaw.checks,
    { path: [...envPath, "checks"], kind: "check", list: "checks:" },
    issues,
    at,
  );
  newRuleWithoutProvider(raw.rules, envRaw.rules, [...envPath, "rules"], issues, at);
  const analysis = mergeAnalysis(raw.analysis, envRaw.analysis, defaultMetricsInput);
  if (analysis.value !== undefined) merged.analysis = analysis.value;
  unknownDisabled(
    getIn(raw, ["analysis", "metrics"]) ?? defaultMetricsInput,
    getIn(envRaw, ["analysis", "metrics"]),
    { path: [...envPath, "analysis", "metrics"], kind: "metric", list: "analysis.metrics (or the defaults)" },
    issues,
    at,
  );
  return (path) => {
    const own =
      overridePath("rules", path, env, rules, envRaw.rules) ??
      overridePath("checks", path, env, checks, envRaw.checks) ??
      analysisPath(path, env, analysis.metrics, envRaw.analysis);
    if (own) return own;
    if (path[0] === "services" && path.length >= 2) {
      const ov = [...envPath, ...path];
      if (loaded.locate(ov) && getIn(raw, ov) !== undefined) return ov;
    }
    return path;
  };
}

/**
 * An environment's rule with a name the top-level `rules:` lacks is a new rule; one without a
 * `provider` was meant to change an existing rule (a misspelt name): say so rather than report
 * the fields a new rule lacks.
 */
function newRuleWithoutProvider(
  base: unknown,
  overrides: unknown,
  path: PathSegment[],
  issues: SpecIssue[],
  at: (path: PathSegment[], message: string) => SpecIssue,
): void {
  if (!Array.isArray(overrides)) return;
  const names = (Array.isArray(base) ? base : []).flatMap((r) =>
    isObj(r) && typeof r.name === "string" ? [r.name] : [],
  );
  overrides.forEach((o, j) => {
    if (!isObj(o) || "provider" in o || typeof o.name !== "string" || names.includes(o.name)) return;
    issues.push(
      at(
        [...path, j, "name"],
        `no rule named "${o.name}" in rules:${didYouMean(o.name, names)} (a new rule needs provider and query)`,
      ),
    );
  });
}

/** `enabled: false` on a name the top-level list does not have turns nothing off: say so. */
function unknownDisabled(
  base: unknown,
  overrides: unknown,
  where: { path: PathSegment[]; kind: string; list: string },
  issues: SpecIssue[],
  at: (path: PathSegment[], message: string) => SpecIssue,
): void {
  if (!Array.isArray(overrides)) return;
  const names = (Array.isArray(base) ? base : []).flatMap((c) =>
    isObj(c) && typeof c.name === "string" ? [c.name] : [],
  );
  overrides.forEach((o, j) => {
    if (!isObj(o) || o.enabled !== false || typeof o.name !== "string" || names.includes(o.name)) return;
    issues.push(
      at(
        [...where.path, j, "name"],
        `no ${where.kind} named "${o.name}" in ${where.list}${didYouMean(o.name, names)} (enabled: false turns off one that exists)`,
      ),
    );
  });
}

/**
 * The defaults the spec gives its secret variables (`${NAME:-x}`, `${NAME-x}`): a value the
 * snapshot templates keeps its default through re-hydration (a daemon missing the variable
 * then uses the default, as the spec says, instead of refusing).
 */
function varDefaults(text: string, secrets: Map<string, string>): NonNullable<ResolvedSpec["varDefaults"]> {
  const out: NonNullable<ResolvedSpec["varDefaults"]> = {};
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)-([^}]*)\}/g)) {
    const [, name, colon, value] = m as unknown as [string, string, string, string];
    if (secrets.has(name) && !(name in out)) out[name] = { empty: colon === ":", value };
  }
  return out;
}

/** Name → value of every secret: the ${VAR}s used, and service env values with secret-like names. */
function secretValues(
  names: string[],
  vars: Record<string, string | undefined>,
  spec: ResolvedSpec,
): Map<string, string> {
  const secrets = new Map<string, string>();
  // A variable that gives a service its port (`port: ${API_PORT:-8081}`) is configuration, not a
  // secret: hiding it turned "serving :8081" into "serving :***" in every message.
  const ports = new Set(
    Object.values(spec.services).flatMap((s) => [s.port, ...(s.ports ?? []).map((p) => p.port)].map(String)),
  );
  for (const n of names) {
    const v = vars[n];
    if (v !== undefined && v !== "" && !(/^\d{1,5}$/.test(v) && ports.has(v))) secrets.set(n, v);
  }
  // Values from service env files are secrets too (they never appear in the spec file).
  for (const svc of Object.values(spec.services)) {
    for (const [k, v] of Object.entries(svc.env)) if (SECRET_KEY.test(k) && v) secrets.set(k, v);
  }
  return secrets;
}

/** Validate the whole file: every environment, leniently (secrets need not be set). */
export function validateAll(loaded: LoadedSpec, vars?: Record<string, string | undefined>): string[] {
  const raw = loaded.raw;
  if (!isObj(raw) || !isObj(raw.environments)) {
    resolveSpec(loaded, { env: "__none__", lenient: true, vars });
  }
  const envs = Object.keys((raw as { environments: Record<string, unknown> }).environments);
  const issues: SpecIssue[] = [];
  const seen = new Set<string>();
  for (const env of envs) {
    try {
      resolveSpec(loaded, { env, lenient: true, vars });
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      for (const i of e.issues) {
        if (i.unset) continue; // variables need not be set here: the deploy's environment has them
        const key = `${i.line}:${i.column}:${i.path}:${i.message}`;
        if (!seen.has(key)) {
          seen.add(key);
          issues.push(i);
        }
      }
    }
  }
  if (issues.length) throw new SpecError(issues);
  return envs;
}

function requiredByChecks(checks: unknown[]): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const r =
      (c as { kind?: string; required?: unknown }).kind === "env"
        ? (c as { required?: unknown }).required
        : undefined;
    if (Array.isArray(r)) out.push(...r.filter((x): x is string => typeof x === "string"));
    // secretAge names are dated from their values (engine/secrets.ts), wherever they come from.
    const ages = (c as { kind?: string; maxAge?: Record<string, unknown> }).maxAge;
    if ((c as { kind?: string }).kind === "secretAge" && ages) out.push(...Object.keys(ages));
  }
  return out;
}
