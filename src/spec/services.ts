/**
 * The parsed spec of one environment → its ResolvedSpec: per service, the env (environment env,
 * env files, the service's own env), strategy, placement and defaults, and the rules no schema
 * can say (a stateful service recreates, ports are unique, dependencies exist and have no cycle).
 */
import { existsSync } from "node:fs";
import { basename, isAbsolute, resolve as resolvePath } from "node:path";
import type { SpecIssue } from "../errors.js";
import { readDotenv } from "./dotenv.js";
import { readSecretFile } from "./secret-file.js";
import type { LoadedSpec, PathSegment } from "./load.js";
import type { ResolvedService, ResolvedSpec, Strategy } from "./resolved.js";
import { proxied, serviceDefaults } from "./defaults.js";
import { withKubeconfigPath } from "./kubeconfig-path.js";
import { placeService, withSshPaths } from "./placement.js";
import type { ParsedService, ParsedSpec } from "./schema.js";
import { didYouMean } from "./suggest.js";
import { SERVICE_NAME } from "./names.js";
import { kubernetesFields } from "./schema-kubernetes.js";
import { resolveGroups } from "./groups.js";
import { certificateChecks, checkDomains, resolveEdge, resolveTls } from "./domains.js";
import { resolveRulesAndRunbooks } from "./rules-resolve.js";
import { normaliseExtraPorts } from "./schema-ports.js";

type Environment = ParsedSpec["environments"][string];
/** The file an env value was read from; `whole`: the file's content is the value. */
export interface FileSource {
  file: string;
  whole?: boolean;
}
type At = (path: PathSegment[], message: string) => void;

export interface BuildContext {
  loaded: LoadedSpec;
  envName: string;
  version: string;
  issues: SpecIssue[];
  /** Where a path of the merged spec lives in the file (an environment override, or itself). */
  mapPath: (p: PathSegment[]) => PathSegment[];
  /** validate: env files and directories may exist only where the deploy runs. */
  lenient: boolean;
  /** Out: per service, the env keys whose value came from a file (an env file, secrets.fromFile). */
  fromFiles: Map<string, Map<string, FileSource>>;
}

export function buildResolved(p: ParsedSpec, ctx: BuildContext): ResolvedSpec {
  const env = p.environments[ctx.envName] as Environment;
  const at: At = (path, message) => {
    const fp = ctx.mapPath(path);
    ctx.issues.push({ file: ctx.loaded.file, ...ctx.loaded.locate(fp), path: fp.join("."), message });
  };
  const services: Record<string, ResolvedService> = {};
  for (const [name, s] of Object.entries(p.services))
    services[name] = resolveService(name, s, p, env, ctx, at);
  checkPorts(services, at);
  const edge = resolveEdge(env.proxy);
  checkDomains(services, env.target.kind, ctx.envName, edge, at);
  const cycle = findCycle(services);
  if (cycle) at(["services", cycle[0] as string, "dependsOn"], `dependency cycle: ${cycle.join(" → ")}`);
  const declared = Object.fromEntries(Object.entries(p.services).map(([n, s]) => [n, s.group]));
  const groups = resolveGroups(p.groups, declared, services, at);
  return {
    project: p.project,
    env: ctx.envName,
    file: ctx.loaded.file,
    dir: ctx.loaded.dir,
    version: ctx.version,
    target: withKubeconfigPath(withSshPaths(env.target, ctx.loaded.dir), ctx.loaded.dir),
    protect: env.protect,
    proxyHost: env.proxy?.host ?? "127.0.0.1",
    ...(edge ? { edge } : {}),
    services,
    checks: [...(p.checks ?? []), ...certificateChecks(services, edge)],
    analysis: p.analysis,
    alerts: p.alerts,
    schedules: p.schedules ?? [],
    ...(p.infrastructure?.length
      ? {
          infrastructure: p.infrastructure.map(({ terraform: t }) => ({
            terraform: {
              ...t,
              workspace: t.workspace ?? ctx.envName,
              dir: resolvePath(ctx.loaded.dir, t.dir),
              name: t.name ?? basename(resolvePath(ctx.loaded.dir, t.dir)),
            },
          })),
        }
      : {}),
    ...(groups
      ? { groups: groups.order.map((name) => ({ name, description: groups.descriptions[name] })) }
      : {}),
    ...resolveRulesAndRunbooks(p, at),
  };
}

function resolveService(
  name: string,
  s: ParsedService,
  p: ParsedSpec,
  env: Environment,
  ctx: BuildContext,
  at: At,
): ResolvedService {
  if (!SERVICE_NAME.test(name))
    at(["services", name], "service names are lower-case letters, digits, - or _");
  const svcEnv = serviceEnv(name, s, env, ctx, at);
  checkDependencies(name, s, p, at);
  checkHealthKind(name, s, at);
  const stateful = s.stateful ?? false;
  const proxy = proxied({ port: s.port, proxy: s.proxy, stateful });
  const strategy = strategyOf(name, s, stateful, proxy, at);
  const path = resolvePath(ctx.loaded.dir, s.path ?? ".");
  checkTargetFields(name, s, env, path, svcEnv, at);
  if (env.target.kind === "kubernetes") checkChartFiles(name, s, ctx.loaded.dir, at);
  const placed = placeService(env.target, { stateful, placement: s.placement });
  if (placed && "error" in placed)
    at(["services", name, "placement", ...(placed.at === "hosts" ? ["hosts"] : [])], placed.error);
  const onHosts = placed && "hosts" in placed ? placed.hosts : undefined;
  if (stateful && (s.replicas ?? 1) > 1)
    at(["services", name, "replicas"], "a stateful service runs one instance");
  const d = serviceDefaults(name, path);
  return {
    name,
    run: s.run,
    path,
    image: s.image,
    build: s.build,
    command: s.command,
    ...(s.user !== undefined ? { user: s.user } : {}),
    port: s.port,
    proxy,
    containerPort: s.containerPort,
    ...(s.ports?.length ? { ports: normaliseExtraPorts(s.ports) } : {}),
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
    ...edgeFields(name, s, env, ctx, at),
  };
}

/** A `health:` must say how to probe (else the deploy would find out with instances started). */
function checkHealthKind(name: string, s: ParsedService, at: At): void {
  const h = s.health;
  if (
    h &&
    h.http === undefined &&
    !h.tcp &&
    h.exec === undefined &&
    h.postgres === undefined &&
    h.redis === undefined
  )
    at(["services", name, "health"], "a health check needs one of http, tcp: true, exec, postgres or redis");
}

/** `domains` (lower-cased) and `tls` (files made absolute) for the proxy or the Ingress. */
function edgeFields(name: string, s: ParsedService, env: Environment, ctx: BuildContext, at: At) {
  const domains = s.domains?.map((d) => d.toLowerCase());
  const tlsCtx = {
    kind: env.target.kind,
    envName: ctx.envName,
    edge: resolveEdge(env.proxy),
    dir: ctx.loaded.dir,
    lenient: ctx.lenient,
  };
  const tls = resolveTls(name, s.tls, domains, tlsCtx, at);
  return { ...(domains?.length ? { domains } : {}), ...(tls ? { tls } : {}) };
}

/** Environment env, then the service's env files, then its own env (which wins). */
function serviceEnv(
  name: string,
  s: ParsedService,
  env: Environment,
  ctx: BuildContext,
  at: At,
): Record<string, string> {
  const svcEnv: Record<string, string> = { ...(env.env ?? {}) };
  const fileKeys = new Map<string, FileSource>();
  (s.envFile ?? []).forEach((f, i) => {
    const file = resolvePath(ctx.loaded.dir, f);
    const where =
      s.envFile && s.envFile.length > 1 ? ["services", name, "envFile", i] : ["services", name, "envFile"];
    // validate (lenient) accepts env files that only exist where the deploy runs.
    if (!existsSync(file)) return ctx.lenient ? undefined : at(where, `env file not found: ${file}`);
    try {
      const vals = readDotenv(file);
      Object.assign(svcEnv, vals);
      for (const k of Object.keys(vals)) fileKeys.set(k, { file });
    } catch (e) {
      at(where, `cannot parse ${f}: ${(e as Error).message}`);
    }
  });
  Object.assign(svcEnv, s.env ?? {});
  for (const k of Object.keys(s.env ?? {})) fileKeys.delete(k); // the spec's own env wins
  for (const [k, f] of Object.entries(s.secrets?.fromFile ?? {})) {
    const where = ["services", name, "secrets", "fromFile", k];
    if (s.env?.[k] !== undefined) at(where, `"${k}" is also set in env; keep one`);
    const file = resolvePath(ctx.loaded.dir, f);
    const value = readSecretFile(file);
    if (value === undefined) {
      if (!ctx.lenient) at(where, `secret file not found or unreadable: ${file}`);
      continue;
    }
    svcEnv[k] = value;
    fileKeys.set(k, { file, whole: true });
  }
  ctx.fromFiles.set(name, fileKeys);
  return svcEnv;
}

function checkDependencies(name: string, s: ParsedService, p: ParsedSpec, at: At): void {
  const names = Object.keys(p.services);
  for (const dep of s.dependsOn ?? []) {
    if (!p.services[dep]) at(["services", name, "dependsOn"], `no service "${dep}"${didYouMean(dep, names)}`);
    if (dep === name) at(["services", name, "dependsOn"], "a service cannot depend on itself");
  }
}

function strategyOf(name: string, s: ParsedService, stateful: boolean, proxy: boolean, at: At): Strategy {
  if (s.proxy === true && s.port === undefined)
    at(["services", name, "proxy"], "proxy: true needs a port (the public port the proxy listens on)");
  // Unproxied, the one instance holds the public port itself: the old one must go first.
  const direct = (s.port !== undefined && !proxy) || (s.ports?.length ?? 0) > 0;
  if (s.chart) return chartStrategy(name, s, at);
  let strategy: Strategy = s.rollout?.strategy ?? (stateful || direct ? "recreate" : "blue-green");
  if (stateful && strategy !== "recreate") {
    at(["services", name, "rollout", "strategy"], `a stateful service only supports "recreate"`);
    strategy = "recreate";
  } else if (direct && strategy !== "recreate") {
    at(
      ["services", name, "rollout", "strategy"],
      s.ports?.length
        ? `${strategy} runs two instances at once, but the one instance binds its further ports (ports:) itself; use "recreate"`
        : `${strategy} needs the proxy (proxy: false binds the port directly); use "recreate" or remove proxy: false`,
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
  return strategy;
}

/**
 * A chart rolls out the way the chart defines it (its workloads' rolling updates): Slipway applies
 * the new objects over the old ones, which is the engine's "recreate" without stopping anything.
 */
function chartStrategy(name: string, s: ParsedService, at: At): Strategy {
  const asked = s.rollout?.strategy;
  if (asked && asked !== "recreate")
    at(
      ["services", name, "rollout", "strategy"],
      `a chart rolls out the way the chart defines (its workloads' rolling updates); ${asked} applies to services with an image`,
    );
  if (s.replicas !== undefined)
    at(
      ["services", name, "replicas"],
      "a chart's replica counts are its values (e.g. values: { replicaCount: 2 })",
    );
  return "recreate";
}

/** What each target needs of a service: a command or an image, a directory, secrets it can write. */
function checkTargetFields(
  name: string,
  s: ParsedService,
  env: Environment,
  path: string,
  svcEnv: Record<string, string>,
  at: At,
): void {
  const kind = env.target.kind;
  if (kind === "process" && !s.run)
    at(["services", name], `the process target needs "run" (the command that starts an instance)`);
  if (kind !== "process" && !s.image && !s.build && !(kind === "kubernetes" && s.chart))
    at(["services", name], `the ${kind} target needs "image" or "build"`);
  if (kind === "process" && s.run && !existsSync(path))
    at(
      ["services", name, "path"],
      `directory not found: ${isAbsolute(s.path ?? ".") ? path : `${s.path} (${path})`}`,
    );
  if (s.user !== undefined && kind !== "docker")
    at(["services", name, "user"], `user needs the docker target (this is ${kind})`);
  if (s.secrets?.as === "files" && kind !== "docker")
    at(["services", name, "secrets", "as"], `secrets as files need the docker target (this is ${kind})`);
  for (const k of s.secrets?.names ?? [])
    if (!(k in svcEnv) && !(k in (s.secrets?.fromFile ?? {})))
      at(["services", name, "secrets", "names"], `"${k}" is not in this service's env`);
}

/** A local chart and its values files must exist: a located spec error, not helm's later. */
function checkChartFiles(name: string, s: ParsedService, dir: string, at: At): void {
  const missing = (p: string) => !existsSync(resolvePath(dir, p));
  const shown = (p: string) => (isAbsolute(p) ? p : `${p} (${resolvePath(dir, p)})`);
  if (typeof s.chart === "string" && missing(s.chart))
    at(["services", name, "chart"], `chart directory not found: ${shown(s.chart)}`);
  (s.valuesFiles ?? []).forEach((f, i) => {
    if (missing(f)) at(["services", name, "valuesFiles", i], `values file not found: ${shown(f)}`);
  });
}

/** Ports (the main one and the further `ports:`) must be unique within the environment. */
function checkPorts(services: Record<string, ResolvedService>, at: At): void {
  const ports = new Map<number, string>();
  const claim = (port: number, owner: string, path: PathSegment[]) => {
    const other = ports.get(port);
    if (other) at(path, `port ${port} is already used by ${other}`);
    else ports.set(port, owner);
  };
  for (const s of Object.values(services)) {
    if (s.port !== undefined) claim(s.port, `service "${s.name}"`, ["services", s.name, "port"]);
    (s.ports ?? []).forEach((p, i) =>
      claim(p.port, `service "${s.name}" (ports[${i}])`, ["services", s.name, "ports", i]),
    );
    const names = new Set<string>();
    (s.ports ?? []).forEach((p, i) => {
      if (names.has(p.name))
        at(["services", s.name, "ports", i, "name"], `port name "${p.name}" is used twice`);
      names.add(p.name);
    });
    const perMachine = s.replicas / (s.placement?.length ?? 1);
    if (s.ports?.length && perMachine > 1)
      at(
        ["services", s.name, "replicas"],
        `${perMachine} instances cannot all bind the further ports (ports:) on one machine; run one, or drop ports`,
      );
  }
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
