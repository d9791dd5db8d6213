/**
 * Sessions (dashboard login), users and API tokens. Users and tokens are managed by admins
 * (and the local owner over the unix socket); the answer never contains a credential except
 * the new token, once.
 */
import type { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { z } from "zod";
import {
  describeIssues,
  hashPassword,
  newSecret,
  newToken,
  sha256,
  type AuthStore,
  type UserRecord,
} from "../index.js";
import {
  SESSION_COOKIE,
  csrfTokenOf,
  principalOfUser,
  type Authenticator,
  type LoginLimiter,
} from "./auth.js";
import { fail, isLocal, loginOriginProblem, requireAdmin, type AppEnv, type Ctx } from "./guard.js";
import { CHANGE_USER, LOGIN, NEW_TOKEN, NEW_USER } from "./route-schemas.js";

export interface AccessDeps {
  store: AuthStore;
  auth: Authenticator;
  limiter: LoginLimiter;
  /** Session cookies get `Secure` (the listener serves TLS). */
  secure: boolean;
  sessionTtlMs: number;
  now: () => number;
}

async function body<T extends z.ZodType>(c: Ctx, schema: T): Promise<{ ok: z.infer<T> } | { res: Response }> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    return { res: fail(c, 400, "UsageError", "the body must be JSON") };
  }
  const r = schema.safeParse(raw);
  return r.success ? { ok: r.data } : { res: fail(c, 400, "UsageError", describeIssues(r.error)) };
}

const userView = (u: UserRecord) => ({
  name: u.name,
  role: u.role,
  grants: u.grants,
  hasPassword: !!u.passwordHash,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
});

function clientAddress(c: Ctx): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // app.request() in tests has no socket
  }
}

export function sessionRoutes(app: Hono<AppEnv>, d: AccessDeps): void {
  app.post("/v1/session", async (c) => {
    const origin = loginOriginProblem(c);
    if (origin) return fail(c, 403, "Forbidden", origin);
    const b = await body(c, LOGIN);
    if ("res" in b) return b.res;
    const keys = [`ip:${clientAddress(c)}`, `user:${b.ok.name.toLowerCase()}`];
    const wait = d.limiter.retryAfter(keys);
    if (wait > 0) {
      c.header("retry-after", String(wait));
      return fail(c, 429, "TooManyRequests", `too many failed logins: try again in ${wait} s`);
    }
    const s = await d.auth.login(b.ok.name, b.ok.password);
    if (!s) {
      d.limiter.fail(keys);
      return fail(c, 401, "Unauthorized", "wrong user name or password");
    }
    d.limiter.succeed(keys);
    setCookie(c, SESSION_COOKIE, s.id, {
      httpOnly: true,
      sameSite: "Strict",
      secure: d.secure,
      path: "/",
      maxAge: Math.floor(d.sessionTtlMs / 1000),
      expires: new Date(s.expiresAt),
    });
    return c.json({ ...principalOfUser(s.user), csrfToken: csrfTokenOf(s.id), expiresAt: s.expiresAt });
  });
}

/** Routes behind authentication: who am I, logout, users, tokens. */
export function accessRoutes(app: Hono<AppEnv>, d: AccessDeps): void {
  app.get("/v1/session", (c) => {
    const s = c.get("session");
    return c.json({ ...c.get("principal"), ...(s ? { csrfToken: csrfTokenOf(s) } : {}) });
  });
  app.delete("/v1/session", async (c) => {
    const s = c.get("session") ?? getCookie(c, SESSION_COOKIE);
    if (s) await d.auth.logout(s);
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: d.secure });
    return c.json({ loggedOut: !!s });
  });
  userRoutes(app, d);
  tokenRoutes(app, d);
}

function userRoutes(app: Hono<AppEnv>, d: AccessDeps): void {
  app.get(
    "/v1/users",
    async (c) => requireAdmin(c) ?? c.json({ users: (await d.store.listUsers()).map(userView) }),
  );
  app.post("/v1/users", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const b = await body(c, NEW_USER);
    if ("res" in b) return b.res;
    if (await d.store.getUser(b.ok.name))
      return fail(c, 409, "Conflict", `user "${b.ok.name}" already exists`);
    const at = new Date(d.now()).toISOString();
    const u: UserRecord = {
      name: b.ok.name,
      role: b.ok.role,
      grants: b.ok.grants,
      createdAt: at,
      updatedAt: at,
    };
    if (b.ok.password) u.passwordHash = await hashPassword(b.ok.password);
    await d.store.putUser(u);
    return c.json({ user: userView(u) }, 201);
  });
  app.patch("/v1/users/:name", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const b = await body(c, CHANGE_USER);
    if ("res" in b) return b.res;
    const u = await d.store.getUser(c.req.param("name"));
    if (!u) return fail(c, 404, "NotFound", `no user "${c.req.param("name")}"`);
    const next: UserRecord = { ...u, updatedAt: new Date(d.now()).toISOString() };
    if (b.ok.role) next.role = b.ok.role;
    if (b.ok.grants) next.grants = b.ok.grants;
    if (b.ok.password) next.passwordHash = await hashPassword(b.ok.password);
    await d.store.putUser(next);
    return c.json({ user: userView(next) });
  });
  app.delete("/v1/users/:name", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const name = c.req.param("name");
    if (!isLocal(c) && name === c.get("principal").actor)
      return fail(c, 409, "Conflict", "you cannot remove yourself (ask another admin, or use the local CLI)");
    return (await d.store.removeUser(name))
      ? c.json({ removed: name })
      : fail(c, 404, "NotFound", `no user "${name}"`);
  });
}

function tokenRoutes(app: Hono<AppEnv>, d: AccessDeps): void {
  app.get("/v1/tokens", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const tokens = (await d.store.listTokens()).map(({ hash: _hash, ...t }) => t);
    return c.json({ tokens });
  });
  app.post("/v1/tokens", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const b = await body(c, NEW_TOKEN);
    if ("res" in b) return b.res;
    const value = newToken();
    const now = d.now();
    const rec = {
      id: `tok_${newSecret(6)}`,
      name: b.ok.name,
      role: b.ok.role,
      grants: b.ok.grants,
      hash: sha256(value),
      createdAt: new Date(now).toISOString(),
      createdBy: c.get("principal").actor,
      ...(b.ok.expiresInMs ? { expiresAt: new Date(now + b.ok.expiresInMs).toISOString() } : {}),
    };
    try {
      await d.store.addToken(rec);
    } catch (e) {
      return fail(c, 409, "Conflict", (e as Error).message);
    }
    const { hash: _hash, ...view } = rec;
    return c.json({ token: value, record: view }, 201);
  });
  app.delete("/v1/tokens/:id", async (c) => {
    const denied = requireAdmin(c);
    if (denied) return denied;
    const id = c.req.param("id");
    return (await d.store.revokeToken(id))
      ? c.json({ revoked: id })
      : fail(c, 404, "NotFound", `no token "${id}"`);
  });
}
