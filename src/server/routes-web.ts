/**
 * The dashboard: its built files (Vite, `npm run build` → dist/web) served at `/` without
 * authentication (the page holds no data), and GET /v1/environments, the one read the page
 * needs besides the operations: every environment the daemon knows that the caller may view.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import { atLeast, roleIn, type Store } from "../index.js";
import { fail, type AppEnv } from "./guard.js";

/** One environment as the dashboard's list shows it (services and alerts come from `status`/`alerts`). */
export interface EnvironmentSummary {
  project: string;
  env: string;
  /** The target as the deployed revision's spec names it: what a light reference needs. */
  target: unknown;
  protect: boolean;
  revision?: { number: number; version: string; status: string; actor: string; createdAt: string };
  lock?: { holder: string; operation: string; acquiredAt: string };
}

type EnvStore = Pick<
  Store,
  "allInstances" | "revisedEnvironments" | "currentRevision" | "listRevisions" | "getLock"
>;

/**
 * Environments with instances, and those without whose newest revision is not a destroy's (a
 * first deploy that failed is listed, so the team sees it); the target from the deployed
 * revision, else the newest.
 */
export async function listEnvironments(store: EnvStore): Promise<EnvironmentSummary[]> {
  const running = new Set<string>();
  for (const i of await store.allInstances()) running.add(`${i.project}/${i.env}`);
  const out: EnvironmentSummary[] = [];
  for (const { project, env } of await store.revisedEnvironments()) {
    const live = running.has(`${project}/${env}`);
    const current = await store.currentRevision(project, env);
    // The newest revision only where it decides something: no deployed one, or nothing running.
    const newest = current && live ? undefined : (await store.listRevisions(project, env, { limit: 1 }))[0];
    if (!live && newest?.status === "superseded") continue; // destroyed
    const rev = current ?? newest;
    if (!rev) continue;
    const snap = (rev.snapshot ?? {}) as { target?: unknown; protect?: unknown };
    const lock = await store.getLock(project, env);
    out.push({
      project,
      env,
      target: snap.target ?? { kind: "process" },
      protect: snap.protect === true || (typeof snap.protect === "object" && snap.protect !== null),
      revision: {
        number: rev.number,
        version: rev.version,
        status: rev.status,
        actor: rev.actor,
        createdAt: rev.createdAt,
      },
      ...(lock
        ? { lock: { holder: lock.holder, operation: lock.operation, acquiredAt: lock.acquiredAt } }
        : {}),
    });
  }
  return out.sort((a, b) => a.project.localeCompare(b.project) || a.env.localeCompare(b.env));
}

/**
 * The list for many viewers at once: concurrent requests share one computation, and its result
 * serves for `maxAgeMs` (a dashboard polling every few seconds sees changes within that delay).
 */
export function sharedList<T>(compute: () => Promise<T>, maxAgeMs: number, now = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (last && t - last.at < maxAgeMs) return last.value;
    const value = compute();
    const entry = { at: t, value };
    last = entry;
    // A failure is not kept: the next request computes again.
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
};

/** dist/web beside dist/server when built; from src/ (tests) the repository's dist/web. */
export function webRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, "..", "web"), join(here, "..", "..", "dist", "web")].find((d) =>
    existsSync(join(d, "index.html")),
  );
}

/** Static files of the built dashboard; must be registered before the authentication middleware. */
export function staticRoutes(app: Hono<AppEnv>, root: string | undefined): void {
  app.get("*", async (c, next) => {
    const path = c.req.path;
    if (path.startsWith("/v1/") || path === "/metrics") return next();
    if (!root) return c.text("the dashboard is not built (npm run build)", 404);
    const rel = path === "/" ? "index.html" : normalize(decodeURIComponent(path)).replace(/^[/\\]+/, "");
    const file = join(root, rel);
    if (!file.startsWith(root + sep) || rel.split(/[/\\]/).includes("..")) return c.text("not found", 404);
    const type = TYPES[extname(file)];
    if (!type) return c.text("not found", 404);
    try {
      const body = await readFile(file);
      return c.body(body, 200, {
        "content-type": type,
        "cache-control": rel.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
        "x-content-type-options": "nosniff",
        "content-security-policy":
          "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
      });
    } catch {
      return c.text("not found", 404);
    }
  });
}

/** GET /v1/environments (behind authentication): only those the caller holds viewer or more in. */
export function environmentRoutes(
  app: Hono<AppEnv>,
  environments: (() => Promise<EnvironmentSummary[]>) | undefined,
): void {
  app.get("/v1/environments", async (c) => {
    if (!environments) return fail(c, 404, "NotFound", "this daemon does not list environments");
    const p = c.get("principal");
    const list = (await environments()).filter((e) => atLeast(roleIn(p, e.project, e.env), "viewer"));
    return c.json({ environments: list, principal: { actor: p.actor, role: p.role, grants: p.grants } });
  });
}
