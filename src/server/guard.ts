/**
 * What stands before every route of the TCP listener: the Host allow-list (DNS rebinding),
 * request body limits, authentication, and CSRF protection for cookie-authenticated changes.
 * Requests over the daemon's unix socket come from the owner of SLIPWAY_HOME: admin.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { bodyLimit } from "hono/body-limit";
import { equalConstantTime, localActor, type Principal } from "../index.js";
import { CSRF_HEADER, SESSION_COOKIE, csrfTokenOf, type Authenticator } from "./auth.js";

export interface AppEnv {
  Bindings: { local?: boolean };
  Variables: { principal: Principal; session?: string };
}
export type Ctx = Context<AppEnv>;

export const fail = (
  c: Context,
  status: 400 | 401 | 403 | 404 | 409 | 413 | 429,
  name: string,
  message: string,
) => c.json({ error: { name, message } }, status);

export const isLocal = (c: Ctx) => c.env?.local === true;

const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"];

/** The host name of a Host header (`[::1]:7437` → `::1`, `Example.COM.` → `example.com`). */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  const bare = h.startsWith("[") ? h.slice(1, h.indexOf("]")) : h.replace(/:\d+$/, "");
  return bare.replace(/\.$/, "");
}

/** Refuse a Host the daemon does not serve: a rebinding page's requests carry its own name. */
export function hostAllowList(extra: readonly string[]): MiddlewareHandler<AppEnv> {
  const allowed = new Set([...LOOPBACK_HOSTS, ...extra.map(hostnameOf)]);
  return async (c, next) => {
    if (isLocal(c)) return next();
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!allowed.has(hostnameOf(host)))
      return fail(
        c,
        403,
        "Forbidden",
        `Host "${host.slice(0, 100)}" is not one this daemon serves (allowed: ${[...allowed].join(", ")}; add one with slipway serve --allowed-host)`,
      );
    return next();
  };
}

export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => fail(c, 413, "PayloadTooLarge", `request body over ${maxBytes} bytes`),
  });
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The origin a browser would send for this daemon, from the request's own Host. */
function sameOrigin(c: Ctx, origin: string): boolean {
  try {
    const o = new URL(origin);
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    return o.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

/** A cookie-authenticated change must come from this daemon's own pages: Origin and the CSRF header. */
export function csrfProblem(c: Ctx, sessionId: string): string | undefined {
  if (!UNSAFE.has(c.req.method)) return undefined;
  const origin = c.req.header("origin");
  if (origin !== undefined && !sameOrigin(c, origin))
    return `cross-origin request from ${origin.slice(0, 100)} refused`;
  const token = c.req.header(CSRF_HEADER) ?? "";
  if (!equalConstantTime(token, csrfTokenOf(sessionId)))
    return `missing or wrong ${CSRF_HEADER} header (the csrfToken from POST/GET /v1/session)`;
  return undefined;
}

export function loginOriginProblem(c: Ctx): string | undefined {
  const origin = c.req.header("origin");
  return origin !== undefined && !sameOrigin(c, origin)
    ? `cross-origin login from ${origin.slice(0, 100)} refused`
    : undefined;
}

/** Sets the principal, or answers 401 (or 403 for a cookie change without CSRF proof). */
export function authenticate(auth: Authenticator): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isLocal(c)) {
      c.set("principal", { actor: localActor(), kind: "local", role: "admin", grants: {} });
      return next();
    }
    const header = c.req.header("authorization");
    const cookie = getCookie(c, SESSION_COOKIE);
    const who =
      header !== undefined ? await auth.bearer(header) : cookie ? await auth.session(cookie) : undefined;
    if (!who)
      return fail(c, 401, "Unauthorized", "log in (POST /v1/session) or send Authorization: Bearer TOKEN");
    if ("error" in who) return fail(c, 401, "Unauthorized", who.error);
    if (who.session) {
      const problem = csrfProblem(c, who.session);
      if (problem) return fail(c, 403, "Forbidden", problem);
      c.set("session", who.session);
    }
    c.set("principal", who.principal);
    return next();
  };
}

/** A `metrics` principal reaches GET /metrics and nothing else. */
export const metricsOnlyThere: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get("principal").role === "metrics" && c.req.path !== "/metrics")
    return fail(
      c,
      403,
      "Forbidden",
      `${c.get("principal").actor} is a metrics token: it may read /metrics only`,
    );
  return next();
};

export function requireAdmin(c: Ctx): Response | undefined {
  const p = c.get("principal");
  if (p.role === "admin") return undefined;
  return fail(c, 403, "Forbidden", `${p.actor} is ${p.role}; managing users and tokens needs admin`);
}
