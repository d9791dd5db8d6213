/**
 * `slipway init --from-compose`: a slipway.yaml from a Compose file. Everything Slipway has a
 * field for is mapped; everything else is listed in `unmapped` (and in the file's header
 * comment), never dropped silently. The output validates against the spec schema.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Document, parse as parseYaml } from "yaml";
import { specSchema } from "../spec/schema.js";
import { SpecError } from "../errors.js";

export interface ComposeImport {
  /** The slipway.yaml text. */
  yaml: string;
  /** What could not be mapped, each as "path: reason". */
  unmapped: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

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

/** Compose `$VAR` and `$$` to Slipway's `${VAR}` and `$${` (Slipway leaves bare $VAR alone). */
export function convertInterpolation(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== "$") {
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next === "$") {
      out += s[i + 2] === "{" ? "$$" : "$";
      i++;
    } else if (next !== undefined && /[A-Za-z_]/.test(next)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1)) as RegExpExecArray;
      out += `\${${m[0]}}`;
      i += m[0].length;
    } else out += c;
  }
  return out;
}

/** Compose sizes are binary (1g = 1024³): "64G" → "64Gi", "512m" → "512Mi", "1gb" → "1Gi". */
export function composeSize(v: unknown): string | number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt])?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  return unit === "b" ? Number(m[1]) : `${m[1]}${unit.toUpperCase()}i`;
}

/** Compose durations ("1m30s", "10s", "1h", "500ms", "2m3s4ms") to Slipway's single-unit form. */
export function composeDuration(v: unknown): string | undefined {
  if (typeof v === "number") return `${v}s`;
  if (typeof v !== "string") return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };
  let ms = 0;
  let rest = v.trim();
  if (!rest) return undefined;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * (units[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  ms = Math.round(ms);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function serviceName(n: string): string {
  return (
    n
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "") || "service"
  );
}

function shellJoin(words: string[]): string {
  return words
    .map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

interface Ctx {
  unmapped: string[];
  rename: Map<string, string>;
}

function parsePort(
  p: unknown,
): { published?: number; target: number; host?: string; protocol: string } | string | undefined {
  if (typeof p === "number") return { target: p, protocol: "tcp" };
  if (isObj(p)) {
    const target = Number(p.target);
    if (!Number.isInteger(target)) return "no target";
    const published = p.published !== undefined ? Number(p.published) : undefined;
    if (published !== undefined && !Number.isInteger(published))
      return "published port ranges are not supported";
    return {
      target,
      ...(published !== undefined ? { published } : {}),
      ...(typeof p.host_ip === "string" ? { host: p.host_ip } : {}),
      protocol: String(p.protocol ?? "tcp"),
    };
  }
  if (typeof p !== "string") return "not understood";
  const [spec, protocol = "tcp"] = p.split("/") as [string, string?];
  const parts = spec.split(":");
  if (parts.some((x) => x.includes("-"))) return "port ranges are not supported";
  const target = Number(parts[parts.length - 1]);
  if (!Number.isInteger(target)) return "not understood";
  const published =
    parts.length >= 2 && parts[parts.length - 2] !== "" ? Number(parts[parts.length - 2]) : undefined;
  const host = parts.length === 3 ? parts[0] : undefined;
  return { target, ...(published ? { published } : {}), ...(host ? { host } : {}), protocol };
}

/** A healthcheck test to a Slipway probe: curl/wget of a localhost URL on the service's port → http. */
function healthProbe(test: unknown, port: number | undefined): { http?: string; exec?: string } | undefined {
  let words: string[] | undefined;
  let shell: string | undefined;
  if (typeof test === "string") shell = test;
  else if (Array.isArray(test)) {
    const [kind, ...rest] = test.map(String);
    if (kind === "NONE") return undefined;
    if (kind === "CMD-SHELL") shell = rest.join(" ");
    else if (kind === "CMD") words = rest;
    else words = test.map(String);
  }
  const cmd = convertInterpolation(shell ?? shellJoin(words ?? []));
  if (!cmd) return undefined;
  const m =
    /^(?:curl|wget)\b[^|;&]*?\bhttps?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0)(?::(\d+))?(\/[^\s'"|;&]*)?['"]?(?:\s*\|\|\s*exit 1)?\s*$/.exec(
      cmd.trim(),
    );
  if (m && (m[1] === undefined ? port === 80 : Number(m[1]) === port)) return { http: m[2] ?? "/" };
  return { exec: cmd };
}

function mapService(name: string, s: Obj, ctx: Ctx): Obj {
  const out: Obj = {};
  const where = `services.${name}`;
  const skip = (key: string, reason: string) => ctx.unmapped.push(`${where}.${key}: ${reason}`);
  const handled = new Set<string>();
  const take = (key: string) => {
    handled.add(key);
    return s[key];
  };

  const image = take("image");
  if (typeof image === "string") out.image = convertInterpolation(image);
  const build = take("build");
  if (typeof build === "string") out.build = { context: build };
  else if (isObj(build)) {
    const b: Obj = { context: typeof build.context === "string" ? build.context : "." };
    if (typeof build.dockerfile === "string") b.dockerfile = build.dockerfile;
    if (typeof build.target === "string") b.target = build.target;
    if (build.args !== undefined) b.args = envOf(build.args, `${where}.build.args`, ctx);
    for (const k of Object.keys(build))
      if (!["context", "dockerfile", "target", "args"].includes(k)) skip(`build.${k}`, "no equivalent");
    out.build = b;
  }
  const command = take("command");
  if (typeof command === "string") out.command = convertInterpolation(command);
  else if (Array.isArray(command)) out.command = command.map((c) => convertInterpolation(String(c)));

  const ports = take("ports");
  if (Array.isArray(ports)) {
    ports.forEach((p, i) => {
      const parsed = parsePort(p);
      if (typeof parsed === "string" || parsed === undefined)
        return skip(`ports[${i}]`, `"${String(p)}": ${parsed}`);
      if (parsed.protocol !== "tcp") return skip(`ports[${i}]`, `"${String(p)}": only TCP ports are proxied`);
      if (out.containerPort !== undefined)
        return skip(`ports[${i}]`, `"${String(p)}": Slipway routes one port per service`);
      out.containerPort = parsed.target;
      if (parsed.published !== undefined) out.port = parsed.published;
      if (parsed.host && !/^(127\.0\.0\.1|localhost)$/.test(parsed.host))
        skip(`ports[${i}]`, `host address ${parsed.host}: set environments.<env>.proxy.host instead`);
    });
  }
  const expose = take("expose");
  if (Array.isArray(expose) && out.containerPort === undefined && expose.length) {
    const n = Number(String(expose[0]).split("/")[0]);
    if (Number.isInteger(n)) out.containerPort = n;
  }

  const environment = take("environment");
  if (environment !== undefined) out.env = envOf(environment, `${where}.environment`, ctx);
  const envFile = take("env_file");
  if (envFile !== undefined) {
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

  const volumes = take("volumes");
  if (Array.isArray(volumes)) {
    const vols: string[] = [];
    volumes.forEach((v, i) => {
      let src: string | undefined;
      let target: string | undefined;
      let ro = false;
      if (typeof v === "string") {
        const parts = v.split(":");
        if (parts.length === 1)
          return skip(`volumes[${i}]`, `"${v}": anonymous volumes are not kept; name it`);
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

  const dependsOn = take("depends_on");
  if (Array.isArray(dependsOn)) out.dependsOn = dependsOn.map(String);
  else if (isObj(dependsOn)) {
    out.dependsOn = Object.keys(dependsOn);
    for (const [dep, v] of Object.entries(dependsOn))
      if (isObj(v) && v.condition === "service_completed_successfully")
        skip(`depends_on.${dep}.condition`, "one-shot services: use migrate or a check instead");
  }

  const resources: Obj = {};
  const deploy = take("deploy");
  if (isObj(deploy)) {
    for (const [k, v] of Object.entries(deploy)) {
      if (k === "replicas" && typeof v === "number") out.replicas = v;
      else if (k === "resources" && isObj(v)) {
        for (const [rk, rv] of Object.entries(v)) {
          if (rk === "limits" && isObj(rv)) {
            for (const [lk, lv] of Object.entries(rv)) {
              if (lk === "memory" && composeSize(lv) !== undefined) resources.memory = composeSize(lv);
              else if (lk === "cpus" && Number(lv) > 0) resources.cpus = Number(lv);
              else skip(`deploy.resources.limits.${lk}`, "no equivalent");
            }
          } else if (rk === "reservations" && isObj(rv)) {
            for (const [lk, lv] of Object.entries(rv)) {
              if (lk === "devices" && Array.isArray(lv)) {
                lv.forEach((d, i) => {
                  const gpu =
                    isObj(d) &&
                    ((Array.isArray(d.capabilities) && d.capabilities.includes("gpu")) ||
                      d.driver === "nvidia");
                  if (!gpu || !isObj(d))
                    return skip(`deploy.resources.reservations.devices[${i}]`, "only GPUs are mapped");
                  if (resources.gpus)
                    return skip(`deploy.resources.reservations.devices[${i}]`, "one GPU request per service");
                  if (Array.isArray(d.device_ids))
                    resources.gpus = {
                      devices: d.device_ids.map((x) => (/^\d+$/.test(String(x)) ? Number(x) : String(x))),
                    };
                  else if (d.count === "all") resources.gpus = { count: "all" };
                  else resources.gpus = { count: Number(d.count ?? 1) };
                  for (const dk of Object.keys(d))
                    if (!["capabilities", "driver", "device_ids", "count"].includes(dk))
                      skip(`deploy.resources.reservations.devices[${i}].${dk}`, "no equivalent");
                });
              } else skip(`deploy.resources.reservations.${lk}`, "Slipway sets limits, not reservations");
            }
          } else skip(`deploy.resources.${rk}`, "no equivalent");
        }
      } else if (k === "restart_policy" && isObj(v)) {
        const c = v.condition === "any" ? "always" : v.condition === "none" ? "no" : v.condition;
        if (c === "always" || c === "on-failure" || c === "no") out.restart = { policy: c };
        for (const rk of Object.keys(v))
          if (rk !== "condition") skip(`deploy.restart_policy.${rk}`, "no equivalent");
      } else if (k === "labels") out.labels = { ...(out.labels as Obj), ...labelsOf(v) };
      else
        skip(`deploy.${k}`, "no equivalent (Slipway's rollout block sets how releases replace each other)");
    }
  }
  // Compose v2 keys and the older GPU forms.
  const memLimit = take("mem_limit");
  if (memLimit !== undefined && composeSize(memLimit) !== undefined)
    resources.memory ??= composeSize(memLimit);
  const cpus = take("cpus");
  if (cpus !== undefined && Number(cpus) > 0) resources.cpus ??= Number(cpus);
  const gpus = take("gpus");
  if (gpus === "all") resources.gpus ??= { count: "all" };
  else if (gpus !== undefined) skip("gpus", "use deploy.resources.reservations.devices");
  const runtime = take("runtime");
  if (runtime === "nvidia" && !resources.gpus) {
    const env = (out.env ?? {}) as Obj;
    const visible = String(env.NVIDIA_VISIBLE_DEVICES ?? "all");
    resources.gpus =
      visible === "all"
        ? { count: "all" }
        : { devices: visible.split(",").map((x) => (/^\d+$/.test(x.trim()) ? Number(x) : x.trim())) };
  } else if (runtime !== undefined && runtime !== "nvidia") skip("runtime", "no equivalent");
  if (Object.keys(resources).length) out.resources = resources;

  const healthcheck = take("healthcheck");
  if (isObj(healthcheck) && healthcheck.disable !== true) {
    const probe = healthProbe(healthcheck.test, out.containerPort as number | undefined);
    if (probe) {
      const h: Obj = { ...probe };
      const iv = composeDuration(healthcheck.interval);
      const to = composeDuration(healthcheck.timeout);
      const sp = composeDuration(healthcheck.start_period);
      if (iv) h.interval = iv;
      if (to) h.timeout = to;
      if (sp) h.startPeriod = sp;
      if (typeof healthcheck.retries === "number" && healthcheck.retries >= 1)
        h.unhealthyThreshold = healthcheck.retries;
      for (const k of Object.keys(healthcheck))
        if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
          skip(`healthcheck.${k}`, "no equivalent");
      out.health = h;
    }
  }

  const restart = take("restart");
  if (typeof restart === "string") {
    const [policy, retries] = restart.split(":");
    const p = policy === "unless-stopped" ? "always" : policy;
    if (p === "always" || p === "on-failure" || p === "no") out.restart = { policy: p };
    else skip("restart", `"${restart}" not understood`);
    if (retries)
      skip("restart", `maximum retries (${retries}): Slipway marks a crash loop instead (restart.crashLoop)`);
  }
  const labels = take("labels");
  if (labels !== undefined) out.labels = { ...(out.labels as Obj), ...labelsOf(labels) };
  const stopSignal = take("stop_signal");
  const stopGrace = take("stop_grace_period");
  if (stopSignal !== undefined || stopGrace !== undefined) {
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

  if (typeof out.image === "string" && STATEFUL_IMAGE.test(out.image.split(":")[0] as string))
    out.stateful = true;

  for (const k of Object.keys(s)) {
    if (handled.has(k)) continue;
    if (k.startsWith("x-")) skip(k, "extension field");
    else skip(k, SERVICE_KEYS_IGNORED[k] ?? "no equivalent");
  }
  return out;
}

function labelsOf(v: unknown): Record<string, string> {
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? "")]));
  if (Array.isArray(v))
    return Object.fromEntries(
      v.map((x) => {
        const [k, ...rest] = String(x).split("=");
        return [k as string, rest.join("=")];
      }),
    );
  return {};
}

function envOf(v: unknown, where: string, ctx: Ctx): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const put = (k: string, x: unknown) => {
    // A bare name passes the variable through from the environment Slipway runs in.
    if (x === null || x === undefined) out[k] = `\${${k}}`;
    else if (typeof x === "number" || typeof x === "boolean") out[k] = x;
    else if (typeof x === "string") out[k] = convertInterpolation(x);
    else ctx.unmapped.push(`${where}.${k}: not a scalar`);
  };
  if (isObj(v)) for (const [k, x] of Object.entries(v)) put(k, x);
  else if (Array.isArray(v))
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf("=");
      if (i < 0) put(s, null);
      else put(s.slice(0, i), s.slice(i + 1));
    }
  return out;
}

/** Remove a value at a dotted path in a plain object. */
function unset(obj: Obj, path: PropertyKey[]): boolean {
  let cur: unknown = obj;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isObj(cur) && !Array.isArray(cur)) return false;
    cur = (cur as Obj)[path[i] as string];
  }
  const last = path[path.length - 1] as string;
  if (isObj(cur) && last in cur) {
    delete cur[last];
    return true;
  }
  if (Array.isArray(cur)) {
    cur.splice(Number(last), 1);
    return true;
  }
  return false;
}

export function importCompose(text: string, file: string): ComposeImport {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SpecError([{ file, path: "", message: `not valid YAML: ${(e as Error).message}` }]);
  }
  if (!isObj(doc) || !isObj(doc.services))
    throw new SpecError([{ file, path: "services", message: "a Compose file needs a services: map" }]);
  const ctx: Ctx = { unmapped: [], rename: new Map() };
  for (const k of Object.keys(doc)) {
    if (k === "services" || k === "name") continue;
    if (k === "version") ctx.unmapped.push(`version: obsolete in Compose, not needed`);
    else if (k === "volumes" && isObj(doc.volumes)) {
      for (const [vn, vv] of Object.entries(doc.volumes))
        if (isObj(vv) && Object.keys(vv).length)
          ctx.unmapped.push(
            `volumes.${vn}: options (${Object.keys(vv).join(", ")}) not mapped; Slipway creates <project>-<env>-${vn}`,
          );
    } else if (k === "networks")
      ctx.unmapped.push("networks: Slipway uses one network per project and environment");
    else ctx.unmapped.push(`${k}: no equivalent`);
  }
  const rawProject = typeof doc.name === "string" ? doc.name : basename(dirname(file)) || "app";
  const project = serviceName(rawProject).slice(0, 63) || "app";
  for (const n of Object.keys(doc.services)) {
    const m = serviceName(n);
    ctx.rename.set(n, m);
    if (m !== n)
      ctx.unmapped.push(
        `services.${n}: renamed to ${m} (Slipway names are lower-case letters, digits, - or _)`,
      );
  }
  const services: Obj = {};
  for (const [n, s] of Object.entries(doc.services)) {
    const svc = mapService(n, isObj(s) ? s : {}, ctx);
    if (Array.isArray(svc.dependsOn))
      svc.dependsOn = svc.dependsOn.map((d) => ctx.rename.get(String(d)) ?? d);
    if (!svc.image && !svc.build) {
      ctx.unmapped.push(`services.${n}: no image or build; give it one`);
      svc.image = `${ctx.rename.get(n)}:latest`;
    }
    services[ctx.rename.get(n) as string] = svc;
  }
  const development: Obj = { target: "docker" };
  if (existsSync(join(dirname(file), ".env"))) development.envFile = ".env";
  const spec: Obj = { project, environments: { development }, services };

  // Whatever the schema still refuses is moved to the unmapped list rather than written.
  for (let round = 0; round < 50; round++) {
    const r = specSchema.safeParse(structuredClone(spec));
    if (r.success) break;
    const issue = r.error.issues[0];
    if (!issue || !issue.path.length || !unset(spec, issue.path))
      throw new SpecError([
        { file, path: issue?.path.join(".") ?? "", message: issue?.message ?? "invalid" },
      ]);
    ctx.unmapped.push(`${issue.path.join(".")}: dropped, ${issue.message}`);
  }

  const out = new Document(spec);
  const header = [
    ` slipway.yaml generated from ${basename(file)} by slipway init --from-compose.`,
    " Review it: health probes, rollout strategies and checks are Slipway's and Compose has none.",
  ];
  if (ctx.unmapped.length)
    header.push(" Not mapped from the Compose file:", ...ctx.unmapped.map((u) => `   - ${u}`));
  out.commentBefore = header.join("\n");
  return { yaml: out.toString({ lineWidth: 110 }), unmapped: ctx.unmapped };
}
