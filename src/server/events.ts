/**
 * GET /v1/events: the engine's structured events (the ones the CLI renders) as server-sent
 * events, for the dashboard. Only environments the caller may view; `env` and `project` narrow it.
 */
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { atLeast, describeIssues, roleIn, type EngineEvent, type EventSubscriber } from "../index.js";
import { fail, type AppEnv } from "./guard.js";
import { EVENTS_QUERY } from "./route-schemas.js";

export interface EventsDeps {
  subscribe?: (fn: EventSubscriber) => () => void;
  /** Keep-alive comment interval (proxies close idle streams). */
  heartbeatMs?: number;
}

export function eventRoutes(app: Hono<AppEnv>, d: EventsDeps): void {
  app.get("/v1/events", (c) => {
    const q = EVENTS_QUERY.safeParse(c.req.query());
    if (!q.success) return fail(c, 400, "UsageError", describeIssues(q.error));
    const subscribe = d.subscribe;
    if (!subscribe) return fail(c, 404, "NotFound", "this daemon has no event stream");
    const p = c.get("principal");
    const wanted = (project: string, env: string) =>
      (!q.data.env || q.data.env === env) &&
      (!q.data.project || q.data.project === project) &&
      atLeast(roleIn(p, project, env), "viewer");
    c.header("cache-control", "no-store");
    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      const queue: { project: string; env: string; event: EngineEvent }[] = [];
      let wake: (() => void) | undefined;
      const off = subscribe((project, env, event) => {
        if (!wanted(project, env)) return;
        queue.push({ project, env, event });
        wake?.();
      });
      let id = 0;
      stream.onAbort(() => {
        off();
        wake?.();
      });
      await stream.writeSSE({ event: "ready", data: JSON.stringify({ actor: p.actor, filter: q.data }) });
      while (!stream.aborted) {
        if (!queue.length) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, d.heartbeatMs ?? 15_000).unref?.();
          });
          wake = undefined;
          if (!queue.length && !stream.aborted) await stream.write(": keep-alive\n\n");
          continue;
        }
        const next = queue.shift()!;
        await stream.writeSSE({ id: String(++id), event: "engine", data: JSON.stringify(next) });
      }
      off();
    });
  });
}
