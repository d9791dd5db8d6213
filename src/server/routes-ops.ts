/**
 * POST /v1/ops/:op: validate the payload (operation-schemas.ts), check the caller's role in the
 * environment (op-roles.ts OP_ROLES), record the authenticated caller as the actor, run it and
 * stream NDJSON: {type:"event"} / {type:"line"} … then {type:"result"} or {type:"error"}.
 */
import type { Hono } from "hono";
import {
  OPS,
  atLeast,
  describeIssues,
  fromWire,
  opPayloadSchema,
  refusal,
  requirementOf,
  roleIn,
  runOp,
  toWireError,
  type OpName,
  type OpPayload,
  type DaemonRun,
  type Principal,
  type Resolution,
  type Slipway,
  type Target,
} from "../index.js";
import { fail, isLocal, type AppEnv } from "./guard.js";

/** One admitted or refused operation of a TCP caller, for the timeline and the daemon log. */
export interface AuditRecord {
  project: string;
  env: string;
  actor: string;
  op: string;
  /** The least role the operation needed. */
  role: string;
  outcome: "admitted" | "refused";
  reason?: string;
}

export interface OpsDeps {
  /** Told about every changing operation run over TCP, and every refusal. */
  audit?: (r: AuditRecord) => void;
  slipway: (target: Target) => Slipway;
  /** Keep the latest resolution per environment (secret values for self-heal; memory only). */
  remember?: (r: Resolution) => void;
  /** This daemon's run (started after an unclean stop?): added to `status` and `health` results. */
  run?: DaemonRun;
}

/** `status` and `health` also say how long this daemon has run, and whether after an unclean stop. */
function withDaemon(deps: OpsDeps, op: string, result: unknown): unknown {
  if (!deps.run || (op !== "status" && op !== "health") || !result || typeof result !== "object")
    return result;
  return { ...result, daemon: deps.run };
}

/**
 * Below deployer, the spec body a client sends is not used: it could carry commands to run
 * (`checks`, `run:`, hooks). The daemon works from the deployed revision instead, as it does
 * for the CLI's read-only light references.
 */
function asReference(p: OpPayload): OpPayload {
  const { project, env, target } = p.resolution.spec;
  const spec = { project, env, target } as OpPayload["resolution"]["spec"];
  return { ...p, resolution: { spec, snapshot: spec, secrets: {}, vars: {}, light: true } };
}

/** The payload as the daemon will run it for this principal, or why it is refused. */
export function admit(
  p: Principal,
  local: boolean,
  op: OpName,
  payload: OpPayload,
): OpPayload | { refused: string } {
  if (local) return payload; // the owner of SLIPWAY_HOME: its CLI's user@host (SLIPWAY_ACTOR) is kept
  const { project, env } = payload.resolution.spec;
  const why = refusal(p, op, payload.args, project, env);
  if (why) return { refused: why };
  let out: OpPayload = { ...payload, actor: p.actor };
  if (out.args.author !== undefined) out = { ...out, args: { ...out.args, author: p.actor } };
  if (!payload.resolution.light && !atLeast(roleIn(p, project, env), "deployer")) out = asReference(out);
  return out;
}

export function opRoutes(app: Hono<AppEnv>, d: OpsDeps): void {
  app.post("/v1/ops/:op", async (c) => {
    const op = c.req.param("op");
    if (!(OPS as readonly string[]).includes(op))
      return fail(c, 404, "UsageError", `unknown operation "${op.slice(0, 64)}"`);
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch (e) {
      return fail(c, 400, "UsageError", `bad request body: ${(e as Error).message}`);
    }
    const parsed = opPayloadSchema(op as OpName).safeParse(raw);
    if (!parsed.success)
      return fail(c, 400, "UsageError", `bad ${op} payload: ${describeIssues(parsed.error)}`);
    const p = c.get("principal");
    const payload = parsed.data as unknown as OpPayload;
    const admitted = admit(p, isLocal(c), op as OpName, payload);
    const need = requirementOf(op as OpName, payload.args).role;
    if (!isLocal(c) && ("refused" in admitted || need !== "viewer")) {
      const { project, env } = payload.resolution.spec;
      const refused = "refused" in admitted ? admitted.refused : undefined;
      d.audit?.({
        project,
        env,
        actor: p.actor,
        op,
        role: need,
        outcome: refused ? "refused" : "admitted",
        reason: refused,
      });
    }
    if ("refused" in admitted) return fail(c, 403, "Forbidden", admitted.refused);
    return streamOp(d, op, admitted);
  });
}

/** Runs one operation and streams its events, log lines and outcome as NDJSON. */
function streamOp(deps: OpsDeps, op: string, payload: OpPayload): Response {
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
      // Inside the promise: a refusal while choosing the target (a Kubernetes context pointing at
      // the wrong cluster) is the operation's error (exit 4), not a broken stream (500).
      (async () => {
        const slipway = deps.slipway(payload.resolution.spec.target);
        if (!payload.resolution.light) deps.remember?.(fromWire(payload.resolution));
        return runOp(slipway, op, payload, {
          emit: (event) => send({ type: "event", event }),
          line: (line) => send({ type: "line", line }),
          signal: op === "logs" ? follow.signal : undefined,
        });
      })()
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
