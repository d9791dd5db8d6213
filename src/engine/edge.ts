/**
 * A service's domains on the environment's shared listeners: the proxy route's `edge` part,
 * the public URL status and deploy print, smoke requests through the public host name, and
 * the refusal of a domain another project or environment already routes on a listener.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Refused } from "../errors.js";
import type { RouteEdge, TrafficRouter } from "../proxy/contract.js";
import { proxied } from "../spec/defaults.js";
import type { ResolvedService, ResolvedSpec } from "../spec/resolved.js";

const loopback = (host: string) => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);

/** The route's host part, when the service has domains on this environment's shared listeners. */
export function edgeOf(spec: ResolvedSpec, svc: ResolvedService): RouteEdge | undefined {
  const e = spec.edge;
  if (!e || !svc.domains?.length || spec.target.kind === "kubernetes") return undefined;
  const t = svc.tls;
  const tls = t?.cert && t.key ? { cert: t.cert, key: t.key } : t?.acme ? { acme: t.acme } : undefined;
  const https = tls ? e.https : undefined;
  if (!e.http && !https) return undefined;
  return {
    domains: svc.domains,
    ...(e.http ? { http: e.http } : {}),
    ...(https && tls ? { https, tls } : {}),
    redirectHttp: e.redirectHttp,
    hstsSeconds: e.hstsSeconds,
    proxyProtocol: e.proxyProtocol,
  };
}

/** `https://api.example.com` (or http://, with a port when not the default one). */
export function publicUrl(spec: ResolvedSpec, svc: ResolvedService): string | undefined {
  const e = edgeOf(spec, svc);
  if (!e) return undefined;
  const d = e.domains[0];
  if (e.https) return `https://${d}${e.https.port === 443 ? "" : `:${e.https.port}`}`;
  return `http://${d}${e.http && e.http.port !== 80 ? `:${e.http.port}` : ""}`;
}

/**
 * One request through the shared listener under the public host name (Host and SNI), without
 * relying on DNS: it checks the app through the proxy as users reach it. The certificate is
 * not verified here — its validity is the `certificate of …` check's business.
 */
export function requestViaDomain(
  e: RouteEdge,
  method: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const d = e.domains[0];
  const l = (e.https ?? e.http) as { host: string; port: number };
  const opts = {
    host: loopback(l.host),
    port: l.port,
    method,
    path,
    headers: { host: d },
    timeout: timeoutMs,
  };
  return new Promise((resolve, reject) => {
    const done = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    };
    const req = e.https
      ? httpsRequest({ ...opts, servername: d, rejectUnauthorized: false, agent: false }, done)
      : httpRequest({ ...opts, agent: false }, done);
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Refuse (exit 4) before anything starts when another route holds one of our domains on a listener. */
export async function assertDomainsFree(
  router: TrafficRouter,
  spec: ResolvedSpec,
  services: string[],
): Promise<void> {
  const mine = services.flatMap((n) => {
    const svc = spec.services[n];
    const e = svc ? edgeOf(spec, svc) : undefined;
    return e ? [{ key: `${spec.project}/${spec.env}/${n}`, e }] : [];
  });
  if (!mine.length) return;
  const addr = (l?: { host: string; port: number }) => (l ? `${l.host}:${l.port}` : undefined);
  const taken = new Map<string, string>();
  for (const r of await router.getRoutes())
    for (const l of [r.edge?.http, r.edge?.https])
      for (const d of l ? (r.edge?.domains ?? []) : []) taken.set(`${addr(l)} ${d}`, r.key);
  for (const { key, e } of mine)
    for (const l of [e.http, e.https])
      for (const d of l ? e.domains : []) {
        const other = taken.get(`${addr(l)} ${d}`);
        if (other && other !== key)
          throw new Refused(
            `${d} is already routed on ${addr(l)} by ${other} (project/environment/service); remove it there first or pick another domain`,
          );
      }
}

/**
 * Refuse (exit 4) before anything starts when another project or environment's route already
 * serves one of our services' public ports (two environments of one file on the same machine
 * with the same `port`): the proxy would refuse the route only after the candidates started.
 */
export async function assertPortsFree(
  router: () => Promise<TrafficRouter>,
  spec: ResolvedSpec,
  services: string[],
): Promise<void> {
  if (spec.target.kind === "kubernetes") return;
  const mine = services.flatMap((n) => {
    const svc = spec.services[n];
    return svc && proxied(svc) && svc.port !== undefined
      ? [{ svc, key: `${spec.project}/${spec.env}/${n}` }]
      : [];
  });
  if (!mine.length) return;
  const held = new Map<string, string>();
  for (const r of await (await router()).getRoutes()) held.set(`${r.listen.host}:${r.listen.port}`, r.key);
  for (const { svc, key } of mine) {
    const addr = `${spec.proxyHost}:${svc.port}`;
    const other = held.get(addr);
    if (other && other !== key)
      throw new Refused(
        `port ${svc.port} of ${svc.name} (${addr}) is already served by ${other} (project/environment/service); ` +
          `give ${spec.env} another port (environments.${spec.env}.services.${svc.name}.port) or remove it there first`,
      );
  }
}
