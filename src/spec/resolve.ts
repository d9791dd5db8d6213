/**
 * resolve(): UserSpec + environment name + variables → frozen ResolvedSpec, plus the
 * snapshot stored with a revision (secret values replaced by their ${VAR} templates).
 */
import { existsSync } from "node:fs";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { SpecError, type SpecIssue } from "../errors.js";
import { readDotenv } from "./dotenv.js";
import { interpolate, InterpolationError } from "./interpolate.js";
import { zodIssuesToSpecIssues } from "./issues.js";
import type { LoadedSpec, PathSegment } from "./load.js";
import type { ResolvedService, ResolvedSpec, Strategy } from "./resolved.js";
import { proxied, serviceDefaults } from "./defaults.js";
import { placeService, withSshPaths } from "./placement.js";
import { specSchema, type ParsedSpec } from "./schema.js";
import { didYouMean } from "./suggest.js";
import { kubernetesFields } from "./schema-kubernetes.js";

export interface ResolveOptions {
  env: string;
  version?: string;
  /** Variables for interpolation (default process.env); they override env files. */
  vars?: Record<string, string | undefined>;
  /** Lenient mode (validate without an environment's secrets): missing required vars are empty. */
  lenient?: boolean;
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

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

const NON_SECRET_VARS = new Set(["VERSION"]);

export function resolveSpec(loaded: LoadedSpec, opts: ResolveOptions): Resolution {
  const issues: SpecIssue[] = [];
  const at = (path: PathSegment[], message: string): SpecIssue => ({
    file: loaded.file,
    ...loaded.locate(path),
    path: path.join("."),
    message,
  });
  const raw = loaded.raw;
  if (!isObj(raw))
    throw new SpecError([at([], "expected a mapping with project, environments and services")]);
  const envs = isObj(raw.environments) ? raw.environments : {};
  if (!isObj(raw.environments))
    throw new SpecError([at(["environments"], "required: a mapping of environments")]);
  if (!isObj(envs[opts.env])) {
    throw new SpecError([
      at(
        ["environments"],
        `no environment "${opts.env}"${didYouMean(opts.env, Object.keys(envs))}; defined: ${Object.keys(envs).join(", ") || "none"}`,
      ),
    ]);
  }
  const envRaw = envs[opts.env] as Record<string, unknown>;

  // Variables: environment env files, then the caller's environment (which wins, as in Compose).
  const fileVars: Record<string, string> = {};
  const envFiles = envRaw.envFile === undefined ? [] : ([] as unknown[]).concat(envRaw.envFile);
  envFiles.forEach((f, i) => {
    if (typeof f !== "string") return;
    const p = resolvePath(loaded.dir, f);
    const where: PathSegment[] = Array.isArray(envRaw.envFile)
      ? ["environments", opts.env, "envFile", i]
      : ["environments", opts.env, "envFile"];
    if (!existsSync(p)) {
      if (!opts.lenient) issues.push(at(where, `env file not found: ${p}`));
      return;
    }
    try {
      Object.assign(fileVars, readDotenv(p));
    } catch (e) {
      issues.push(at(where, `cannot parse ${f}: ${(e as Error).message}`));
    }
  });
  const version = opts.version ?? "dev";
  const vars: Record<string, string | undefined> = {
    ...fileVars,
    ...(opts.vars ?? process.env),
    VERSION: version,
  };

  // Overlay: the selected environment's service overrides over the services.
  const services = isObj(raw.services) ? raw.services : {};
  const overrides = isObj(envRaw.services) ? envRaw.services : {};
  for (const name of Object.keys(overrides)) {
    if (!(name in services))
      issues.push(
        at(
          ["environments", opts.env, "services", name],
          `no service "${name}"${didYouMean(name, Object.keys(services))}`,
        ),
      );
  }
  const mergedServices: Record<string, unknown> = {};
  for (const [name, svc] of Object.entries(services)) mergedServices[name] = deepMerge(svc, overrides[name]);
  const merged: Record<string, unknown> = {
    ...raw,
    environments: { [opts.env]: envRaw },
    services: mergedServices,
  };

  // Where a path of `merged` lives in the file (overrides win when they set the key).
  const mapPath = (path: PathSegment[]): PathSegment[] => {
    if (path[0] === "services" && path.length >= 2) {
      const ov = ["environments", opts.env, ...path];
      if (loaded.locate(ov) && getIn(raw, ov) !== undefined) return ov;
    }
    return path;
  };

  // Interpolation, remembering which variables every string used.
  const secretNames = new Set<string>();
  const interpolated = walk(merged, [], (text, path) => {
    try {
      const r = interpolate(text, vars, { strict: !opts.lenient });
      for (const v of r.vars) if (!NON_SECRET_VARS.has(v)) secretNames.add(v);
      if (r.vars.length && r.value !== text) return coerce(r.value);
      return r.value;
    } catch (e) {
      if (e instanceof InterpolationError) {
        const filePath = mapPath(path);
        issues.push({
          file: loaded.file,
          ...loaded.locate(filePath),
          path: filePath.join("."),
          message: e.message,
        });
        return "";
      }
      throw e;
    }
  });
  if (issues.length) throw new SpecError(issues);

  const parsed = specSchema.safeParse(interpolated);
  if (!parsed.success) {
    throw new SpecError(zodIssuesToSpecIssues(specSchema, parsed.error.issues, loaded, mapPath));
  }
  const fromFiles = new Map<string, Map<string, string>>();
  const spec = buildResolved(
    parsed.data,
    loaded,
    opts.env,
    version,
    issues,
    mapPath,
    !!opts.lenient,
    fromFiles,
  );
  if (issues.length) throw new SpecError(issues);

  const secrets = new Map<string, string>();
  for (const n of secretNames) {
    const v = vars[n];
    if (v !== undefined && v !== "") secrets.set(n, v);
  }
  // Values from service env files are secrets too (they never appear in the spec file).
  for (const svc of Object.values(spec.services)) {
    for (const [k, v] of Object.entries(svc.env))
      if (/SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL/i.test(k) && v) secrets.set(k, v);
  }
  const snapshot = redact(spec, secrets) as ResolvedSpec;
  // Every value a service env file gives is a secret, whatever its name: the snapshot keeps a
  // ${NAME} reference in its place, re-hydrated from the secrets when the revision is re-applied.
  // Placed by position, not by value, so a short value ("1") never rewrites unrelated strings.
  for (const [name, keys] of fromFiles) {
    const env = snapshot.services[name]?.env as Record<string, string> | undefined;
    const refs: Record<string, { file: string; key: string }> = {};
    for (const [k, file] of keys) {
      const v = spec.services[name].env[k];
      if (!env || v === undefined || v === "") continue;
      let ref = k;
      for (let n = 2; secrets.has(ref) && secrets.get(ref) !== v; n++) ref = `${k}_${n}`;
      secrets.set(ref, v);
      env[k] = `\${${ref}}`;
      refs[ref] = { file, key: k };
    }
    // Where each reference came from: a daemon that restarts without the deploying CLI's values
    // re-reads the env files (rehydrate), instead of starting instances with empty variables.
    if (Object.keys(refs).length) (snapshot.services[name] as ResolvedService).envFileRefs = refs;
  }
  // The keys whose values the snapshot had to template are the secret ones (secrets.as: files).
  for (const [name, svc] of Object.entries(spec.services)) {
    const stored = snapshot.services[name]?.env ?? {};
    const keys = Object.keys(svc.env).filter((k) => stored[k] !== svc.env[k]);
    if (!keys.length) continue;
    (svc as { secretEnv?: string[] }).secretEnv = keys;
    (snapshot.services[name] as { secretEnv?: string[] }).secretEnv = keys;
  }
  const wanted = new Set([...secretNames, ...requiredByChecks(spec.checks)]);
  const callerVars = opts.vars ?? process.env;
  const checkVars: Record<string, string> = { ...fileVars };
  for (const n of wanted) {
    const v = callerVars[n];
    if (v !== undefined) checkVars[n] = v;
  }
  return { spec: deepFreeze(spec), snapshot, secrets, vars: checkVars };
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
  }
  return out;
}

function getIn(obj: unknown, path: PathSegment[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function coerce(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === "true") return true;
  if (v === "false") return false;
  return v;
}

function walk(v: unknown, path: PathSegment[], fn: (s: string, path: PathSegment[]) => unknown): unknown {
  if (typeof v === "string") return fn(v, path);
  if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i], fn));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k], fn);
    return out;
  }
  return v;
}

/** Replace secret values by their ${NAME} template, so a snapshot can be stored and re-hydrated. */
export function redact(value: unknown, secrets: Map<string, string>): unknown {
  const entries = [...secrets.entries()].sort((a, b) => b[1].length - a[1].length);
  return walk(value, [], (s) => {
    let out = s.replace(/\$\{/g, () => "$${");
    for (const [name, v] of entries) {
      if (out === v) return `\${${name}}`;
      if (v.length >= 6 && out.includes(v)) out = out.split(v).join(`\${${name}}`);
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
    for (const [ref, { file, key }] of Object.entries(svc?.envFileRefs ?? {})) {
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function buildResolved(
  p: ParsedSpec,
  loaded: LoadedSpec,
  envName: string,
  version: string,
  issues: SpecIssue[],
  mapPath: (p: PathSegment[]) => PathSegment[],
  lenient = false,
  /** Out: per service, the env keys whose value came from one of its env files. */
  fromFiles = new Map<string, Map<string, string>>(),
): ResolvedSpec {
  const env = p.environments[envName];
  const at = (path: PathSegment[], message: string) => {
    const fp = mapPath(path);
    issues.push({ file: loaded.file, ...loaded.locate(fp), path: fp.join("."), message });
  };
  const names = Object.keys(p.services);
  const services: Record<string, ResolvedService> = {};
  for (const [name, s] of Object.entries(p.services)) {
    if (!/^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$/.test(name))
      at(["services", name], "service names are lower-case letters, digits, - or _");
    const svcEnv: Record<string, string> = { ...(env.env ?? {}) };
    const fileKeys = new Map<string, string>();
    (s.envFile ?? []).forEach((f, i) => {
      const file = resolvePath(loaded.dir, f);
      const where =
        s.envFile && s.envFile.length > 1 ? ["services", name, "envFile", i] : ["services", name, "envFile"];
      // validate (lenient) accepts env files that only exist where the deploy runs.
      if (!existsSync(file)) return lenient ? undefined : at(where, `env file not found: ${file}`);
      try {
        const vals = readDotenv(file);
        Object.assign(svcEnv, vals);
        for (const k of Object.keys(vals)) fileKeys.set(k, file);
      } catch (e) {
        at(where, `cannot parse ${f}: ${(e as Error).message}`);
      }
    });
    Object.assign(svcEnv, s.env ?? {});
    for (const k of Object.keys(s.env ?? {})) fileKeys.delete(k); // the spec's own env wins
    fromFiles.set(name, fileKeys);
    for (const dep of s.dependsOn ?? []) {
      if (!p.services[dep])
        at(["services", name, "dependsOn"], `no service "${dep}"${didYouMean(dep, names)}`);
      if (dep === name) at(["services", name, "dependsOn"], "a service cannot depend on itself");
    }
    const stateful = s.stateful ?? false;
    const proxy = proxied({ port: s.port, proxy: s.proxy, stateful });
    if (s.proxy === true && s.port === undefined)
      at(["services", name, "proxy"], "proxy: true needs a port (the public port the proxy listens on)");
    // Unproxied, the one instance holds the public port itself: the old one must go first.
    const direct = s.port !== undefined && !proxy;
    let strategy: Strategy = s.rollout?.strategy ?? (stateful || direct ? "recreate" : "blue-green");
    if (stateful && strategy !== "recreate") {
      at(["services", name, "rollout", "strategy"], `a stateful service only supports "recreate"`);
      strategy = "recreate";
    } else if (direct && strategy !== "recreate") {
      at(
        ["services", name, "rollout", "strategy"],
        `${strategy} needs the proxy (proxy: false binds the port directly); use "recreate" or remove proxy: false`,
      );
      strategy = "recreate";
    }
    if (strategy === "canary" && !(s.rollout?.steps ?? []).length)
      at(
        ["services", name, "rollout", "steps"],
        "canary needs at least one step, e.g. [{ weight: 10, pause: 30s }]",
      );
    if (strategy === "canary" && s.port === undefined)
      at(["services", name, "rollout", "strategy"], "canary needs a port (traffic is split by the proxy)");
    if (env.target.kind === "process" && !s.run)
      at(["services", name], `the process target needs "run" (the command that starts an instance)`);
    if (env.target.kind !== "process" && !s.image && !s.build)
      at(["services", name], `the ${env.target.kind} target needs "image" or "build"`);
    const path = resolvePath(loaded.dir, s.path ?? ".");
    if (env.target.kind === "process" && s.run && !existsSync(path))
      at(
        ["services", name, "path"],
        `directory not found: ${isAbsolute(s.path ?? ".") ? path : `${s.path} (${path})`}`,
      );
    if (s.secrets?.as === "files" && env.target.kind !== "docker")
      at(
        ["services", name, "secrets", "as"],
        `secrets as files need the docker target (this is ${env.target.kind})`,
      );
    for (const k of s.secrets?.names ?? [])
      if (!(k in svcEnv)) at(["services", name, "secrets", "names"], `"${k}" is not in this service's env`);
    const placed = placeService(env.target, { stateful, placement: s.placement });
    if (placed && "error" in placed)
      at(["services", name, "placement", ...(placed.at === "hosts" ? ["hosts"] : [])], placed.error);
    const onHosts = placed && "hosts" in placed ? placed.hosts : undefined;
    const d = serviceDefaults(name, path);
    services[name] = {
      name,
      run: s.run,
      path,
      image: s.image,
      build: s.build,
      command: s.command,
      port: s.port,
      proxy,
      containerPort: s.containerPort,
      replicas: (stateful ? Math.min(s.replicas ?? 1, 1) : (s.replicas ?? 1)) * (onHosts?.length ?? 1),
      ...(onHosts ? { placement: onHosts } : {}),
      env: svcEnv,
      ...(s.secrets ? { secrets: { ...s.secrets, as: s.secrets.as ?? "env" } } : {}),
      health: s.health,
      smoke: s.smoke ?? [],
      dependsOn: s.dependsOn ?? [],
      stop: s.stop ?? d.stop,
      restart: s.restart ?? d.restart,
      stateful,
      rollout: { ...d.rollout, ...(s.rollout ?? {}), strategy },
      resources: s.resources,
      volumes: s.volumes ?? d.volumes,
      retain: s.retain ?? d.retain,
      logs: s.logs ?? d.logs,
      migrate: s.migrate,
      backup: s.backup,
      labels: s.labels ?? {},
      ...kubernetesFields(s),
    };
    if (stateful && (s.replicas ?? 1) > 1)
      at(["services", name, "replicas"], "a stateful service runs one instance");
  }
  // Ports must be unique within the environment.
  const ports = new Map<number, string>();
  for (const s of Object.values(services)) {
    if (s.port === undefined) continue;
    const other = ports.get(s.port);
    if (other) at(["services", s.name, "port"], `port ${s.port} is already used by service "${other}"`);
    ports.set(s.port, s.name);
  }
  const cycle = findCycle(services);
  if (cycle) at(["services", cycle[0], "dependsOn"], `dependency cycle: ${cycle.join(" → ")}`);
  return {
    project: p.project,
    env: envName,
    file: loaded.file,
    dir: loaded.dir,
    version,
    target: withSshPaths(env.target, loaded.dir),
    protect: env.protect,
    proxyHost: env.proxy?.host ?? "127.0.0.1",
    services,
    checks: p.checks ?? [],
    analysis: p.analysis,
    alerts: p.alerts,
    schedules: p.schedules ?? [],
  };
}

function findCycle(services: Record<string, ResolvedService>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 2) return undefined;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const d of services[n]?.dependsOn ?? []) {
      if (!services[d]) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of Object.keys(services)) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}
