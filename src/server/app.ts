/**
 * The daemon's HTTP API (Hono): the same app serves the 0600 unix socket (the local owner:
 * admin) and the TCP listener (users, tokens, sessions; Host allow-list, CSRF, body limits).
 * Routes: server/routes-ops.ts (operations), routes-access.ts (session, users, tokens),
 * events.ts (SSE), openapi.ts (/v1/openapi.json), /metrics and /v1/health here.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AuthStore, DaemonRun, EventSubscriber, Resolution, Slipway, Target } from "../index.js";
import { Authenticator, LoginLimiter } from "./auth.js";
import { eventRoutes } from "./events.js";
import { authenticate, fail, hostAllowList, limitBody, metricsOnlyThere, type AppEnv } from "./guard.js";
import { openApiDocument } from "./openapi.js";
import { accessRoutes, sessionRoutes } from "./routes-access.js";
import { opRoutes, type AuditRecord } from "./routes-ops.js";
import { environmentRoutes, staticRoutes, webRoot, type EnvironmentSummary } from "./routes-web.js";

export interface AppDeps {
  /** Users, tokens and sessions (the store's `auth`). */
  users: AuthStore;
  slipway: (target: Target) => Slipway;
  /** Keep the latest resolution per environment (secret values for self-heal; memory only). */
  remember?: (r: Resolution) => void;
  /** The latest resolution kept for an environment: the dashboard's light references run with its values. */
  latest?: (project: string, env: string) => Resolution | undefined;
  /** Changing operations over TCP and refusals (the daemon records them in the store's timeline). */
  audit?: (r: AuditRecord) => void;
  /** Every engine event (GET /v1/events). */
  subscribe?: (fn: EventSubscriber) => () => void;
  version: string;
  startedAt: string;
  /** This daemon's run (started after an unclean stop?): added to `status` and `health` results. */
  run?: DaemonRun;
  /** Prometheus text for GET /metrics (daemon gauges and the proxy's series). */
  metrics?: () => Promise<string>;
  /** Host names the TCP listener answers to besides localhost, 127.0.0.1 and ::1. */
  allowedHosts?: string[];
  /** The listener serves TLS: session cookies are `Secure`. */
  secure?: boolean;
  /** Default 12 h. */
  sessionTtlMs?: number;
  /** Default 8 MiB (a resolved spec with its secrets fits many times over). */
  maxBodyBytes?: number;
  /** Failed logins per client address or user name per minute before 429 (default 5). */
  loginAttempts?: number;
  now?: () => number;
  /** Every environment the daemon knows (GET /v1/environments, the dashboard's list). */
  environments?: () => Promise<EnvironmentSummary[]>;
  /** The built dashboard (default: dist/web); null serves none. */
  webRoot?: string | null;
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const now = deps.now ?? Date.now;
  const sessionTtlMs = deps.sessionTtlMs ?? 12 * 3_600_000;
  const auth = new Authenticator(deps.users, sessionTtlMs, now);
  const access = {
    store: deps.users,
    auth,
    limiter: new LoginLimiter(deps.loginAttempts ?? 5, 60_000, now),
    secure: deps.secure === true,
    sessionTtlMs,
    now,
  };

  app.onError((e, c) =>
    e instanceof HTTPException
      ? e.getResponse()
      : c.json({ error: { name: "InternalError", message: e.message.slice(0, 300) } }, 500),
  );
  app.use("*", hostAllowList(deps.allowedHosts ?? []));
  app.use("*", limitBody(deps.maxBodyBytes ?? 8 * 1024 * 1024));
  app.use("/v1/session", limitBody(16 * 1024));

  app.get("/v1/health", (c) =>
    c.json({
      ok: true,
      pid: process.pid,
      version: deps.version,
      startedAt: deps.startedAt,
      ...(deps.run ? { afterUncleanStop: deps.run.afterUncleanStop } : {}),
    }),
  );
  app.get("/v1/openapi.json", (c) => c.json(openApiDocument(deps.version)));
  sessionRoutes(app, access);
  staticRoutes(app, deps.webRoot === null ? undefined : (deps.webRoot ?? webRoot()));

  app.use("/v1/*", authenticate(auth));
  app.use("/metrics", authenticate(auth));
  app.use("*", metricsOnlyThere);

  // Prometheus' default path (scrape config: authorization.credentials_file with a metrics token).
  app.get("/metrics", async (c) => {
    if (!deps.metrics) return fail(c, 404, "NotFound", "no metrics here");
    return c.body(await deps.metrics(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    });
  });
  accessRoutes(app, access);
  eventRoutes(app, { subscribe: deps.subscribe });
  environmentRoutes(app, deps.environments);
  opRoutes(app, deps);
  app.all("/v1/*", (c) => fail(c, 404, "NotFound", `no route ${c.req.method} ${c.req.path.slice(0, 100)}`));
  return app;
}
