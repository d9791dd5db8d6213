/**
 * The proxy at the edge: an environment's shared listeners (`proxy: { http, https, … }`) and a
 * service's `tls` for its `domains` — certificate files, ACME, or (Kubernetes) a Secret.
 */
import { z } from "zod";
import { parseDuration } from "../util/units.js";

/** `80`, or `"0.0.0.0:80"` / `"[::]:443"`; the address defaults to the environment's proxy host. */
const listener = (what: string) =>
  z
    .union([z.number().int().min(1).max(65535), z.string()])
    .transform((v, ctx) => {
      if (typeof v === "number") return { port: v };
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v.trim());
      const port = m ? Number(m[3]) : NaN;
      if (!m || port < 1 || port > 65535) {
        ctx.addIssue({ code: "custom", message: 'expected a port (443) or "address:port" ("0.0.0.0:443")' });
        return z.NEVER;
      }
      return { host: m[1] ?? m[2], port };
    })
    .describe(what);

const YEAR_S = 365 * 86_400;

/** HSTS max-age in seconds: true = 1 year, a duration ("1y", "180d"), or a number of seconds. */
const hsts = z
  .union([z.boolean(), z.number().int().min(0), z.string()])
  .transform((v, ctx) => {
    if (typeof v === "boolean") return v ? YEAR_S : 0;
    if (typeof v === "number") return v;
    const y = /^(\d+)y$/.exec(v.trim());
    if (y) return Number(y[1]) * YEAR_S;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: 'expected true, seconds, or a duration ("1y", "180d")' });
      return z.NEVER;
    }
    return Math.round(ms / 1000);
  })
  .describe(
    "Strict-Transport-Security on HTTPS answers: true (1 year), a duration (1y, 180d) or seconds; browsers then refuse plain HTTP for that long.",
  );

export const edgeProxySchema = z
  .strictObject({
    host: z
      .string()
      .default("127.0.0.1")
      .describe(
        "Address the public ports (and `http`/`https` given as bare ports) listen on (loopback unless told otherwise).",
      ),
    http: listener(
      "Shared plain-HTTP listener for the services' `domains` (port, or address:port): every environment of every project naming it shares it, routed by Host. ACME's HTTP-01 challenges are answered here.",
    ).optional(),
    https: listener(
      "Shared HTTPS listener (HTTP/2 and HTTP/1.1 by ALPN) for the `domains` of services with `tls`, routed by SNI and Host.",
    ).optional(),
    redirectHttp: z
      .boolean()
      .default(false)
      .describe(
        "Answer plain HTTP for domains with a certificate with a redirect to HTTPS (301; 308 for other methods than GET/HEAD).",
      ),
    hsts: hsts.optional(),
    proxyProtocol: z
      .boolean()
      .default(false)
      .describe(
        "The shared listeners sit behind a load balancer that sends a PROXY protocol (v1 or v2) header: the client address it carries becomes X-Forwarded-For. Connections without one are refused.",
      ),
  })
  .describe(
    "The proxy on this machine: the address of the public ports, and the shared listeners for `domains`.",
  );

export const serviceTlsSchema = z
  .union([
    z
      .strictObject({
        cert: z
          .string()
          .describe("PEM certificate (chain) file, relative to slipway.yaml; re-read when it changes."),
        key: z.string().describe("PEM private key file of `cert`."),
      })
      .describe("Process and Docker targets: a certificate from files."),
    z
      .strictObject({
        acme: z
          .strictObject({
            email: z.string().min(3).describe("Contact address of the ACME account (expiry notices)."),
            directory: z.url().optional().describe("ACME directory URL (default Let's Encrypt production)."),
          })
          .describe(
            "The ACME account: HTTP-01 on `proxy.http`; account key and certificates kept 0600 under SLIPWAY_HOME.",
          ),
      })
      .describe(
        "Process and Docker targets: a certificate from an ACME CA (RFC 8555, HTTP-01 on `proxy.http`), renewed a third of its lifetime before expiry.",
      ),
    z
      .strictObject({
        secretName: z.string().describe("The Secret (type kubernetes.io/tls) holding the certificate."),
      })
      .describe("Kubernetes: TLS for the service's `domains`, terminated by the Ingress."),
  ])
  .describe("TLS for the service's `domains`: certificate files, ACME, or (Kubernetes) a Secret.");

export type EdgeProxy = z.output<typeof edgeProxySchema>;
export type ServiceTls = z.output<typeof serviceTlsSchema>;
