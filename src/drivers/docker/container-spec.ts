/**
 * The container create options of one instance: a pure function of the request, so tests and
 * dry runs can look at exactly what the engine will be asked for.
 */
import { shellWords } from "../../util/shell-words.js";

export { shellWords };
import { isAbsolute, resolve } from "node:path";
import type { ContainerCreateOptions, DeviceRequest, HostConfig } from "dockerode";
import type { InstanceRequest } from "../driver.js";
import { proxied } from "../../spec/defaults.js";
import type { ResolvedService } from "../../spec/resolved.js";
import { LABELS, containerName, volumeName } from "./names.js";
import { SECRETS_DIR, secretFileKeys } from "./secret-files.js";
import { extraPortVar } from "../../spec/schema-ports.js";

export interface CreateContext {
  network: string;
  /** Address the published port binds to on the engine's host (loopback by default). */
  publishAddress: string;
}

/** The port the container listens on ($PORT), if any. */
export function containerPort(svc: ResolvedService): number | undefined {
  return svc.containerPort ?? svc.port;
}

/** Stateful services (databases) are not published unless they have a public port. */
export function publishes(svc: ResolvedService): boolean {
  return containerPort(svc) !== undefined && (!svc.stateful || svc.port !== undefined);
}

/**
 * The host port a published container port binds to: an ephemeral one the proxy routes to, or
 * the public port itself for an unproxied service (a database reached without the HTTP proxy).
 */
export function hostPort(svc: ResolvedService): string {
  return proxied(svc) || svc.port === undefined ? "" : String(svc.port);
}

export interface ParsedVolume {
  kind: "named" | "bind";
  source: string;
  target: string;
  readOnly: boolean;
}

/** name:/path[:ro] is a named volume; ./dir:/path, /dir:/path and ~/dir:/path are binds. */
export function parseVolume(spec: string, baseDir: string, project: string, env: string): ParsedVolume {
  const parts = spec.split(":");
  let mode = "";
  if (parts.length >= 3 && /^(ro|rw|z|Z|ro,.*|rw,.*)$/.test(parts[parts.length - 1] as string))
    mode = parts.pop() as string;
  if (parts.length !== 2 || !parts[1]?.startsWith("/"))
    throw new Error(`volume "${spec}" is not name:/path or ./host/path:/path[:ro]`);
  const [src, target] = parts as [string, string];
  const readOnly = mode.split(",").includes("ro");
  const bind = src.startsWith("/") || src.startsWith(".") || src.startsWith("~");
  if (!bind) return { kind: "named", source: volumeName(project, env, src), target, readOnly };
  const home = process.env.HOME ?? "/root";
  const source = src.startsWith("~")
    ? resolve(home, src.slice(2))
    : isAbsolute(src)
      ? src
      : resolve(baseDir, src);
  return { kind: "bind", source, target, readOnly };
}

export function gpuRequests(svc: ResolvedService): DeviceRequest[] | undefined {
  const g = svc.resources?.gpus;
  if (!g) return undefined;
  if ("devices" in g)
    return [{ Driver: "nvidia", DeviceIDs: g.devices.map(String), Capabilities: [["gpu"]] }];
  return [{ Driver: "nvidia", Count: g.count === "all" ? -1 : g.count, Capabilities: [["gpu"]] }];
}

const ns = (ms: number) => Math.round(ms * 1_000_000);

export function instanceLabels(req: InstanceRequest): Record<string, string> {
  const port = containerPort(req.service);
  return {
    ...req.service.labels,
    [LABELS.project]: req.project,
    [LABELS.env]: req.env,
    [LABELS.service]: req.service.name,
    [LABELS.revision]: String(req.revision),
    [LABELS.version]: req.version,
    [LABELS.slot]: req.slot,
    [LABELS.index]: String(req.index),
    ...(port !== undefined ? { [LABELS.port]: String(port) } : {}),
  };
}

/** The values `secrets.as: files` writes to /run/secrets (they stay out of the container's Env). */
export function secretFiles(req: InstanceRequest): Record<string, string> {
  const files: Record<string, string> = {};
  for (const k of secretFileKeys(req.service)) {
    const v = req.env_vars[k];
    if (v !== undefined) files[k] = v;
  }
  return files;
}

export function instanceEnv(req: InstanceRequest): string[] {
  const port = containerPort(req.service);
  const env = { ...req.env_vars };
  // NAME_FILE instead of NAME: the convention of the official database images.
  for (const k of Object.keys(secretFiles(req))) {
    delete env[k];
    env[`${k}_FILE`] = `${SECRETS_DIR}/${k}`;
  }
  const vars: Record<string, string> = {
    ...env,
    ...(port !== undefined ? { PORT: String(port) } : {}),
    ...Object.fromEntries(
      (req.service.ports ?? []).map((p) => [extraPortVar(p.name), String(p.containerPort)]),
    ),
    SLIPWAY_PROJECT: req.project,
    SLIPWAY_ENV: req.env,
    SLIPWAY_SERVICE: req.service.name,
    SLIPWAY_REVISION: String(req.revision),
    SLIPWAY_SLOT: req.slot,
    SLIPWAY_INDEX: String(req.index),
    SLIPWAY_INSTANCE: instanceName(req),
  };
  return Object.entries(vars).map(([k, v]) => `${k}=${v}`);
}

export function instanceName(req: InstanceRequest): string {
  return containerName(req.project, req.env, req.service.name, req.revision, req.index);
}

/** The main port (when published) and every further port, each bound on the engine's host. */
function portBindings(svc: ResolvedService, ctx: CreateContext): Pick<HostConfig, "PortBindings"> {
  const port = containerPort(svc);
  const bindings: NonNullable<HostConfig["PortBindings"]> = {};
  if (port !== undefined && publishes(svc))
    bindings[`${port}/tcp`] = [{ HostIp: ctx.publishAddress, HostPort: hostPort(svc) }];
  for (const p of svc.ports ?? [])
    bindings[`${p.containerPort}/tcp`] = [{ HostIp: ctx.publishAddress, HostPort: String(p.port) }];
  return Object.keys(bindings).length ? { PortBindings: bindings } : {};
}

function exposedPorts(svc: ResolvedService): Pick<ContainerCreateOptions, "ExposedPorts"> {
  const ports = [containerPort(svc), ...(svc.ports ?? []).map((p) => p.containerPort)].filter(
    (p): p is number => p !== undefined,
  );
  return ports.length ? { ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])) } : {};
}

export function createOptions(req: InstanceRequest, ctx: CreateContext): ContainerCreateOptions {
  const svc = req.service;
  const restart = svc.restart.policy;
  const binds = svc.volumes.map((v) => {
    const p = parseVolume(v, svc.path, req.project, req.env);
    return `${p.source}:${p.target}${p.readOnly ? ":ro" : ""}`;
  });
  const hostConfig: HostConfig = {
    NetworkMode: ctx.network,
    // "always" means the engine restarts it after a daemon restart too, but not after Slipway stops it.
    RestartPolicy: { Name: restart === "always" ? "unless-stopped" : restart },
    LogConfig: {
      Type: "json-file",
      Config: { "max-size": String(svc.logs.maxSize), "max-file": String(svc.logs.maxFiles) },
    },
    ...(binds.length ? { Binds: binds } : {}),
    ...(svc.resources?.memory !== undefined ? { Memory: Math.round(svc.resources.memory) } : {}),
    ...(svc.resources?.cpus !== undefined ? { NanoCpus: Math.round(svc.resources.cpus * 1e9) } : {}),
    ...(gpuRequests(svc) ? { DeviceRequests: gpuRequests(svc) } : {}),
    ...portBindings(svc, ctx),
  };
  const h = svc.health;
  const command =
    svc.command === undefined
      ? undefined
      : Array.isArray(svc.command)
        ? svc.command
        : shellWords(svc.command);
  return {
    name: instanceName(req),
    Image: req.artifact.ref,
    ...(command ? { Cmd: command } : {}),
    ...(svc.user !== undefined ? { User: svc.user } : {}),
    Env: instanceEnv(req),
    Labels: instanceLabels(req),
    StopSignal: svc.stop.signal,
    StopTimeout: Math.ceil(svc.stop.grace / 1000),
    ...exposedPorts(svc),
    // Docker's own health status mirrors an exec probe (http/tcp probes need no tool in the image:
    // Slipway runs those from outside).
    ...(h?.exec
      ? {
          Healthcheck: {
            Test: ["CMD-SHELL", h.exec],
            Interval: ns(h.interval),
            Timeout: ns(h.timeout),
            Retries: h.unhealthyThreshold,
            StartPeriod: ns(h.startPeriod),
          },
        }
      : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: { [ctx.network]: { Aliases: [svc.name] } } },
  };
}
