/** One Compose service to a Slipway service: every key is mapped or reported, never dropped silently. */
import { mapHealthcheck } from "./health.js";
import { mapPorts } from "./ports.js";
import { mapDeploy, mapLegacyLimits } from "./resources.js";
import { mapServiceSecrets, type ComposeSecrets } from "./secrets.js";
import { composeDuration, convertInterpolation, envOf, isObj, labelsOf, type Obj } from "./values.js";

export interface Ctx {
  unmapped: string[];
  rename: Map<string, string>;
  /** The Compose file's top-level `secrets:` (file-based ones), by name. */
  secrets: ComposeSecrets;
  /** Out: the top-level secrets some service uses. */
  usedSecrets: Set<string>;
}

type Skip = (key: string, why: string) => void;

/** Services whose image looks like a database or a queue: recreated, never doubled. */
const STATEFUL_IMAGE =
  /(^|\/)(postgres|postgis|mysql|mariadb|mongo|redis|valkey|keydb|elasticsearch|opensearch|cassandra|clickhouse|qdrant|milvus|weaviate|chroma|etcd|zookeeper|kafka|rabbitmq|nats|minio|influxdb|neo4j|memcached)[^/]*$/i;

const SERVICE_KEYS_IGNORED: Record<string, string> = {
  container_name: "Slipway names containers <project>-<env>-<service>-r<revision>-<slot>-<index>",
  networks:
    "Slipway puts every service on one network per project and environment (reachable by service name)",
  network_mode: "no equivalent",
  hostname: "no equivalent",
  entrypoint: "no equivalent; fold it into command",
  expose: "informational in Compose",
  links: "services reach each other by name on the project network",
};

export function mapService(name: string, s: Obj, ctx: Ctx): Obj {
  const out: Obj = {};
  const where = `services.${name}`;
  const skip: Skip = (key, reason) => ctx.unmapped.push(`${where}.${key}: ${reason}`);
  const handled = new Set<string>();
  const take = (key: string) => {
    handled.add(key);
    return s[key];
  };
  mapImageAndBuild(take("image"), take("build"), out, (k) => skip(k, "no equivalent"), ctx, where);
  const command = take("command");
  if (typeof command === "string") out.command = convertInterpolation(command);
  else if (Array.isArray(command)) out.command = command.map((c) => convertInterpolation(String(c)));
  const user = take("user");
  if (typeof user === "string" || typeof user === "number") out.user = String(user);
  mapPorts(take("ports"), take("expose"), out, skip);
  const environment = take("environment");
  if (environment !== undefined)
    out.env = envOf(environment, (k) => ctx.unmapped.push(`${where}.environment.${k}: not a scalar`));
  mapEnvFile(take("env_file"), out, skip);
  for (const n of mapServiceSecrets(take("secrets"), out, ctx.secrets, skip)) ctx.usedSecrets.add(n);
  mapVolumes(take("volumes"), out, skip);
  mapDependsOn(take("depends_on"), out, skip);
  const resources: Obj = {};
  mapDeploy(take("deploy"), out, resources, skip);
  const legacy = {
    memLimit: take("mem_limit"),
    cpus: take("cpus"),
    gpus: take("gpus"),
    runtime: take("runtime"),
  };
  mapLegacyLimits(legacy, out.env as Obj | undefined, resources, skip);
  if (Object.keys(resources).length) out.resources = resources;
  const health = mapHealthcheck(take("healthcheck"), out, skip);
  if (health) out.health = health;
  mapRestart(take("restart"), out, skip);
  const labels = take("labels");
  if (labels !== undefined) out.labels = { ...(out.labels as Obj), ...labelsOf(labels) };
  mapStop(take("stop_signal"), take("stop_grace_period"), out, skip);
  secretOwner(out, skip);
  // `${POSTGRES_IMAGE:-postgres:15}`: the default names the image.
  const image = typeof out.image === "string" ? out.image.replace(/^\$\{\w+:?-(.*)\}$/, "$1") : undefined;
  if (image !== undefined && STATEFUL_IMAGE.test(image.split(":")[0] as string)) out.stateful = true;
  furtherPorts(out, skip);
  for (const k of Object.keys(s)) {
    if (handled.has(k)) continue;
    if (k.startsWith("x-")) skip(k, "extension field");
    else skip(k, SERVICE_KEYS_IGNORED[k] ?? "no equivalent");
  }
  return out;
}

/**
 * Further ports are bound by the one instance itself: the old one must go first (recreate), and
 * several replicas cannot share a fixed host port (nor can they in Compose).
 */
function furtherPorts(out: Obj, skip: Skip): void {
  if (!Array.isArray(out.ports)) return;
  if (typeof out.replicas === "number" && out.replicas > 1) {
    for (const p of out.ports as Obj[])
      skip("ports", `${String(p.port)}: ${out.replicas} replicas cannot share one published host port`);
    delete out.ports;
  } else if (!out.stateful) out.rollout = { strategy: "recreate" };
}

function mapImageAndBuild(
  image: unknown,
  build: unknown,
  out: Obj,
  noEquivalent: (key: string) => void,
  ctx: Ctx,
  where: string,
): void {
  if (typeof image === "string") out.image = convertInterpolation(image);
  if (typeof build === "string") out.build = { context: build };
  else if (isObj(build)) {
    const b: Obj = { context: typeof build.context === "string" ? build.context : "." };
    if (typeof build.dockerfile === "string") b.dockerfile = build.dockerfile;
    if (typeof build.target === "string") b.target = build.target;
    if (build.args !== undefined)
      b.args = envOf(build.args, (k) => ctx.unmapped.push(`${where}.build.args.${k}: not a scalar`));
    for (const k of Object.keys(build))
      if (!["context", "dockerfile", "target", "args"].includes(k)) noEquivalent(`build.${k}`);
    out.build = b;
  }
}

function mapEnvFile(envFile: unknown, out: Obj, skip: Skip): void {
  if (envFile === undefined) return;
  const list = (Array.isArray(envFile) ? envFile : [envFile]).flatMap((e, i) => {
    if (typeof e === "string") return [e];
    if (isObj(e) && typeof e.path === "string") {
      if (e.required === false) skip(`env_file[${i}].required`, "Slipway requires every env file to exist");
      return [e.path];
    }
    skip(`env_file[${i}]`, "not understood");
    return [];
  });
  if (list.length) out.envFile = list.length === 1 ? list[0] : list;
}

function mapVolumes(volumes: unknown, out: Obj, skip: Skip): void {
  if (!Array.isArray(volumes)) return;
  const vols: string[] = [];
  volumes.forEach((v, i) => {
    let src: string | undefined;
    let target: string | undefined;
    let ro = false;
    if (typeof v === "string") {
      const parts = v.split(":");
      if (parts.length === 1) return skip(`volumes[${i}]`, `"${v}": anonymous volumes are not kept; name it`);
      [src, target] = parts as [string, string];
      ro = (parts[2] ?? "").split(",").includes("ro");
    } else if (isObj(v)) {
      if (v.type !== undefined && v.type !== "volume" && v.type !== "bind")
        return skip(`volumes[${i}]`, `type ${String(v.type)} is not supported`);
      src = typeof v.source === "string" ? v.source : undefined;
      target = typeof v.target === "string" ? v.target : undefined;
      ro = v.read_only === true;
      if (!src) return skip(`volumes[${i}]`, "anonymous volumes are not kept; name it");
    }
    if (!src || !target) return skip(`volumes[${i}]`, "not understood");
    vols.push(`${src}:${target}${ro ? ":ro" : ""}`);
  });
  if (vols.length) out.volumes = vols;
}

/**
 * Every condition becomes `dependsOn`: Slipway deploys a dependency first and waits until it is
 * healthy (its probe passes, or it is running when it has none), so `service_healthy` and
 * `service_started` are both kept.
 */
function mapDependsOn(dependsOn: unknown, out: Obj, skip: Skip): void {
  if (Array.isArray(dependsOn)) out.dependsOn = dependsOn.map(String);
  else if (isObj(dependsOn)) {
    out.dependsOn = Object.keys(dependsOn);
    for (const [dep, v] of Object.entries(dependsOn))
      if (isObj(v) && v.condition === "service_completed_successfully")
        skip(`depends_on.${dep}.condition`, "one-shot services: use migrate or a check instead");
  }
}

function mapRestart(restart: unknown, out: Obj, skip: Skip): void {
  if (typeof restart !== "string") return;
  const [policy, retries] = restart.split(":");
  const p = policy === "unless-stopped" ? "always" : policy;
  if (p === "always" || p === "on-failure" || p === "no") out.restart = { policy: p };
  else skip("restart", `"${restart}" not understood`);
  if (retries)
    skip("restart", `maximum retries (${retries}): Slipway marks a crash loop instead (restart.crashLoop)`);
}

function mapStop(stopSignal: unknown, stopGrace: unknown, out: Obj, skip: Skip): void {
  if (stopSignal === undefined && stopGrace === undefined) return;
  const st: Obj = {};
  if (typeof stopSignal === "string") {
    const sig = stopSignal.startsWith("SIG") ? stopSignal : `SIG${stopSignal}`;
    if (["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL"].includes(sig))
      st.signal = sig;
    else skip("stop_signal", `${stopSignal} is not supported`);
  }
  const g = composeDuration(stopGrace);
  if (g) st.grace = g;
  if (Object.keys(st).length) out.stop = st;
}

/**
 * Compose bind-mounts secret files as they are on the host; Slipway writes them 0400, owned by
 * root unless told: a service that runs as another user gets the files owned by that uid/gid.
 */
function secretOwner(out: Obj, skip: Skip): void {
  const secrets = out.secrets as Obj | undefined;
  if (!secrets || typeof out.user !== "string") return;
  const m = /^(\d+)(?::(\d+))?$/.exec(out.user);
  if (!m) {
    if (secrets.uid === undefined)
      skip("user", `secret files are owned by root (mode 0400): set secrets.uid to the uid of "${out.user}"`);
    return;
  }
  secrets.uid ??= Number(m[1]);
  if (m[2] !== undefined) secrets.gid ??= Number(m[2]);
}
