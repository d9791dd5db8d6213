/** Compose `ports` and `expose` entries to a service's port and container port. */
import { convertInterpolation, isObj, type Obj } from "./values.js";

export interface ComposePort {
  /** A number, or a `${VAR:-5000}` interpolation kept for Slipway to resolve (`port:` takes both). */
  published?: number | string;
  target: number;
  host?: string;
  protocol: string;
}

/** One `ports` entry (short "h:p:t/proto" or long form); a string says why it is not understood. */
export function parsePort(p: unknown): ComposePort | string | undefined {
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
  // `${API_PORT:-5000}:5000`: the interpolation's own ":" and "-" are not separators or ranges.
  const vars: string[] = [];
  const masked = p.replace(/\$\{[^}]*\}/g, (v) => `\u{e000}${vars.push(v) - 1}\u{e000}`);
  const unmask = (x: string) =>
    x.replace(/\u{e000}(\d+)\u{e000}/gu, (_, i: string) => vars[Number(i)] as string);
  const [spec, protocol = "tcp"] = masked.split("/") as [string, string?];
  const parts = spec.split(":");
  if (parts.some((x) => x.includes("-"))) return "port ranges are not supported";
  const target = Number(parts[parts.length - 1]);
  if (!Number.isInteger(target)) return "not understood";
  const pub = parts.length >= 2 && parts[parts.length - 2] !== "" ? parts[parts.length - 2] : undefined;
  const published =
    pub === undefined ? undefined : pub.includes("\u{e000}") ? publishedVar(unmask(pub)) : Number(pub);
  if (published !== undefined && typeof published === "number" && !Number.isInteger(published))
    return "not understood";
  if (published === "") return "not understood";
  const host = parts.length === 3 ? unmask(parts[0] as string) : undefined;
  return { target, ...(published ? { published } : {}), ...(host ? { host } : {}), protocol };
}

/** A published port given as one interpolation (`${API_PORT:-5000}`), in Slipway's syntax; else "". */
function publishedVar(text: string): string {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$/.test(text) ? convertInterpolation(text) : "";
}

/**
 * A further published port becomes a `ports:` entry (published directly, so the service rolls out
 * by recreate); an unpublished one needs nothing: other services reach it by name on the network.
 */
function extraPort(
  p: ComposePort,
  text: string,
  key: string,
  out: Obj,
  skip: (key: string, why: string) => void,
) {
  if (p.published === undefined)
    return skip(key, `"${text}": not published; other services reach it on the project network by name`);
  const list = (out.ports ?? []) as Obj[];
  list.push({ port: p.published, ...(p.target !== p.published ? { containerPort: p.target } : {}) });
  out.ports = list;
  if (p.host && !/^(127\.0\.0\.1|localhost)$/.test(p.host))
    skip(key, `host address ${p.host}: set environments.<env>.proxy.host instead`);
}

/** `ports` (the first TCP one is routed, the others published directly) and, failing that, `expose`, into `out`. */
export function mapPorts(
  ports: unknown,
  expose: unknown,
  out: Obj,
  skip: (key: string, why: string) => void,
): void {
  if (Array.isArray(ports)) {
    ports.forEach((p, i) => {
      const parsed = parsePort(p);
      if (typeof parsed === "string" || parsed === undefined)
        return skip(`ports[${i}]`, `"${String(p)}": ${parsed}`);
      if (parsed.protocol !== "tcp") return skip(`ports[${i}]`, `"${String(p)}": only TCP ports are proxied`);
      if (out.containerPort !== undefined) return extraPort(parsed, String(p), `ports[${i}]`, out, skip);
      out.containerPort = parsed.target;
      if (parsed.published !== undefined) out.port = parsed.published;
      if (parsed.host && !/^(127\.0\.0\.1|localhost)$/.test(parsed.host))
        skip(`ports[${i}]`, `host address ${parsed.host}: set environments.<env>.proxy.host instead`);
    });
  }
  if (Array.isArray(expose) && out.containerPort === undefined && expose.length) {
    const n = Number(String(expose[0]).split("/")[0]);
    if (Number.isInteger(n)) out.containerPort = n;
  }
}
