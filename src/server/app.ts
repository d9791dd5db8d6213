/**
 * The daemon's HTTP API (Hono). Every route that changes something needs the token;
 * operations stream NDJSON: {type:"event"} / {type:"line"} … then {type:"result"} or {type:"error"}.
 */
import { Hono } from "hono";
import { fromWire, OPS, runOp, toWireError, type OpPayload } from "../core.js";
import type { DaemonRun, Resolution, Slipway, Target } from "../index.js";
import { tokenMatches } from "./auth.js";

export interface AppDeps {
  token: string;
  slipway: (target: Target) => Slipway;
  /** Keep the latest resolution per environment (secret values for self-heal; memory only). */
  remember?: (r: Resolution) => void;
  version: string;
  startedAt: string;
  /** This daemon's run (started after an unclean stop?): added to `status` and `health` results. */
  run?: DaemonRun;
  /** Prometheus text for GET /metrics (daemon gauges and the proxy's series). */
  metrics?: () => Promise<string>;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/v1/health", (c) =>
    c.json({
      ok: true,
      pid: process.pid,
      version: deps.version,
      startedAt: deps.startedAt,
      ...(deps.run ? { afterUncleanStop: deps.run.afterUncleanStop } : {}),
    }),
  );

  // Prometheus' default path, behind the same token (scrape config: authorization.credentials_file).
  app.get("/metrics", async (c) => {
    if (!tokenMatches(deps.token, c.req.header("authorization")))
      return c.json({ error: { name: "Unauthorized", message: "missing or wrong token" } }, 401);
    if (!deps.metrics) return c.json({ error: { name: "NotFound", message: "no metrics here" } }, 404);
    return c.body(await deps.metrics(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    });
  });

  app.use("/v1/*", async (c, next) => {
    if (c.req.path === "/v1/health") return next();
    if (!tokenMatches(deps.token, c.req.header("authorization")))
      return c.json({ error: { name: "Unauthorized", message: "missing or wrong token" } }, 401);
    return next();
  });

  app.post("/v1/ops/:op", async (c) => {
    const op = c.req.param("op");
    if (!(OPS as readonly string[]).includes(op))
      return c.json({ error: { name: "UsageError", message: `unknown operation "${op}"` } }, 404);
    let payload: OpPayload;
    try {
      payload = (await c.req.json()) as OpPayload;
      if (!payload?.resolution?.spec) throw new Error("missing resolution");
    } catch (e) {
      return c.json(
        { error: { name: "UsageError", message: `bad request body: ${(e as Error).message}` } },
        400,
      );
    }
    return streamOp(deps, op, payload);
  });

  return app;
}

/** `status` and `health` also say how long this daemon has run, and whether after an unclean stop. */
function withDaemon(deps: AppDeps, op: string, result: unknown): unknown {
  if (!deps.run || (op !== "status" && op !== "health") || !result || typeof result !== "object")
    return result;
  return { ...result, daemon: deps.run };
}

/** Runs one operation and streams its events, log lines and outcome as NDJSON. */
function streamOp(deps: AppDeps, op: string, payload: OpPayload): Response {
  const enc = new TextEncoder();
  // Operations that change things go on when the client disconnects (the daemon owns them);
  // log following stops.
  const follow = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      const send = (o: unknown) => {
        if (!open) return;
        try {
          controller.enqueue(enc.encode(JSON.stringify(o) + "\n"));
        } catch {
          open = false;
        }
      };
      const slipway = deps.slipway(payload.resolution.spec.target);
      if (!payload.resolution.light) deps.remember?.(fromWire(payload.resolution));
      runOp(slipway, op, payload, {
        emit: (event) => send({ type: "event", event }),
        line: (line) => send({ type: "line", line }),
        signal: op === "logs" ? follow.signal : undefined,
      })
        .then((result) => send({ type: "result", result: withDaemon(deps, op, result) }))
        .catch((e) => {
          const w = toWireError(e);
          if (w.details?.stack) delete w.details.stack;
          send({ type: "error", error: w });
        })
        .finally(() => {
          if (open) controller.close();
          open = false;
        });
    },
    cancel() {
      follow.abort();
    },
  });
  return new Response(body, {
    headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
  });
}
