/**
 * `domains`, `tls` and the environment's shared listeners (`proxy.http`/`https`), resolved and
 * checked: what no schema can say (a domain twice, tls without an https listener, files that
 * do not exist), and the certificate checks that watch expiry for the daemon's alerts.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import type { PathSegment } from "./load.js";
import { proxied } from "./defaults.js";
import type { ResolvedEdge, ResolvedService } from "./resolved.js";
import type { TlsCheckSpec } from "./schema-checks.js";
import type { EdgeProxy, ServiceTls } from "./schema-edge.js";

/** A DNS name: lower-case labels of letters, digits and hyphens (no wildcard). */
export const DOMAIN_RE =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

type At = (path: PathSegment[], message: string) => void;
type Kind = "process" | "docker" | "kubernetes";

export function resolveEdge(p: EdgeProxy | undefined): ResolvedEdge | undefined {
  if (!p || (!p.http && !p.https)) return undefined;
  const at = (l: { host?: string; port: number }) => ({ host: l.host ?? p.host, port: l.port });
  return {
    ...(p.http ? { http: at(p.http) } : {}),
    ...(p.https ? { https: at(p.https) } : {}),
    redirectHttp: p.redirectHttp,
    hstsSeconds: p.hsts ?? 0,
    proxyProtocol: p.proxyProtocol,
  };
}

export interface TlsContext {
  kind: Kind;
  envName: string;
  edge: ResolvedEdge | undefined;
  dir: string;
  lenient: boolean;
}

/** The service's tls as the engine uses it (files made absolute), with its problems reported. */
export function resolveTls(
  name: string,
  tls: ServiceTls | undefined,
  domains: string[] | undefined,
  ctx: TlsContext,
  at: At,
): ResolvedService["tls"] {
  if (!tls) return undefined;
  const where = ["services", name, "tls"];
  if ("secretName" in tls) {
    if (ctx.kind !== "kubernetes")
      at(
        where,
        `secretName is the Kubernetes form; on the ${ctx.kind} target give { cert, key } or { acme: { email } }`,
      );
    return tls;
  }
  if (ctx.kind === "kubernetes") {
    at(where, "on Kubernetes the Ingress terminates TLS: give { secretName } (a kubernetes.io/tls Secret)");
    return undefined;
  }
  if (!domains?.length) at(where, "tls is for the service's domains: add `domains`");
  if (!ctx.edge?.https)
    at(where, `tls needs an HTTPS listener: set environments.${ctx.envName}.proxy.https (e.g. 443)`);
  if ("acme" in tls) {
    if (!ctx.edge?.http)
      at(
        [...where, "acme"],
        `ACME (HTTP-01) needs environments.${ctx.envName}.proxy.http: port 80 as the CA sees it`,
      );
    return { acme: tls.acme };
  }
  const files = { cert: resolvePath(ctx.dir, tls.cert), key: resolvePath(ctx.dir, tls.key) };
  if (!ctx.lenient) {
    const missing = (["cert", "key"] as const).filter((k) => !existsSync(files[k]));
    for (const k of missing) at([...where, k], `file not found: ${tls[k]} (${files[k]})`);
    if (!missing.length) checkKeyPair(files, tls, domains ?? [], where, at);
  }
  return files;
}

/**
 * The pair loads, the key is the certificate's and the certificate covers every domain — what the
 * proxy would refuse at the switch, said here at the field before anything starts. A file this
 * process may not read (a key only the daemon's user can) is left to the proxy.
 */
function checkKeyPair(
  files: { cert: string; key: string },
  tls: { cert: string; key: string },
  domains: string[],
  where: PathSegment[],
  at: At,
): void {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return undefined;
    }
  };
  const certText = read(files.cert);
  const keyText = read(files.key);
  if (certText === undefined || keyText === undefined) return;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certText);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pem?.[0] ?? "");
  } catch {
    return at([...where, "cert"], `${tls.cert} holds no PEM certificate`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch {
    return at([...where, "key"], `${tls.key} holds no (unencrypted) PEM private key`);
  }
  if (!leaf.checkPrivateKey(key))
    at([...where, "key"], `${tls.key} is not the private key of the certificate in ${tls.cert}`);
  const uncovered = domains.filter((d) => leaf.checkHost(d) === undefined);
  if (uncovered.length)
    at(
      [...where, "cert"],
      `the certificate in ${tls.cert} (${leaf.subject.replace(/\n/g, ", ")}) does not cover ${uncovered.join(", ")}`,
    );
}

/** Domains: valid names, each on one service only, and somewhere to be served. */
export function checkDomains(
  services: Record<string, ResolvedService>,
  kind: Kind,
  envName: string,
  edge: ResolvedEdge | undefined,
  at: At,
): void {
  const owner = new Map<string, string>();
  for (const s of Object.values(services)) {
    if (!s.domains?.length) continue;
    s.domains.forEach((d, i) => {
      const path = ["services", s.name, "domains", i];
      if (!DOMAIN_RE.test(d))
        at(path, `"${d}" is not a host name (lower-case letters, digits, - and dots; no wildcard)`);
      const other = owner.get(d);
      if (other && other !== s.name) at(path, `${d} is also a domain of service "${other}"`);
      owner.set(d, s.name);
    });
    if (kind === "kubernetes") continue;
    if (!proxied(s))
      at(
        ["services", s.name, "domains"],
        "domains are routed by the proxy: the service needs a `port` and `proxy` not false",
      );
    else if (!edge)
      at(
        ["services", s.name, "domains"],
        `domains need a shared listener: set environments.${envName}.proxy.http and/or .https`,
      );
  }
}

/** Expiry checks for the certificates the proxy serves (warnings before a deploy; alerts daily). */
export function certificateChecks(
  services: Record<string, ResolvedService>,
  edge: ResolvedEdge | undefined,
): TlsCheckSpec[] {
  const out: TlsCheckSpec[] = [];
  for (const s of Object.values(services)) {
    const tls = s.tls;
    if (!tls || !s.domains?.length || !edge?.https) continue;
    const common = {
      kind: "tls" as const,
      name: `certificate of ${s.name}`,
      minDays: 14,
      severity: "warning" as const,
    };
    if (tls.cert) out.push({ ...common, file: tls.cert });
    else if (tls.acme) {
      const host = edge.https.host === "0.0.0.0" || edge.https.host === "::" ? "127.0.0.1" : edge.https.host;
      out.push({ ...common, host: `${host}:${edge.https.port}`, servername: s.domains[0] });
    }
  }
  return out;
}
