/**
 * Operations as data: one payload shape for every command, executed the same way by the
 * in-process CLI and by the daemon (which receives the payload over its authenticated API).
 */
import { SlipwayError, UsageError } from "./errors.js";
import { exitCodeOf } from "./exit-codes.js";
import { DATA_OPS } from "./engine/data/operation-names.js";
import type { EventSink } from "./engine/events.js";
import type { Resolution } from "./spec/resolve.js";
import type { ResolvedSpec } from "./spec/resolved.js";
import type { Slipway } from "./slipway.js";
import type { LogLine } from "./drivers/driver.js";
import { makeRedactor, type Redactor } from "./util/redact.js";

export const OPS = [
  "check",
  "plan",
  "deploy",
  "rollback",
  "restart",
  "scale",
  "secrets",
  "status",
  "history",
  "health",
  "logs",
  "stop",
  "destroy",
  "lock",
  "prune",
  "alerts",
  "silence",
  "exec",
  "stats",
  "smoke",
  "rules",
  "runbook",
  "runbook-runs",
  ...DATA_OPS,
] as const;
export type OpName = (typeof OPS)[number];

/** A Resolution that survives JSON (secrets as a plain object). */
export interface WireResolution {
  spec: ResolvedSpec;
  snapshot: ResolvedSpec;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  /**
   * A read-only command's light reference (project, env, target only): the daemon answers from
   * the deployed revision's snapshot instead.
   */
  light?: boolean;
}

export interface OpPayload {
  resolution: WireResolution;
  args: Record<string, unknown>;
  /** Who runs the command (the CLI's user@host): recorded in revisions, locks and `confirm` items. */
  actor?: string;
}

export function toWire(r: Resolution): WireResolution {
  const light = (r as { light?: boolean }).light;
  return {
    spec: r.spec,
    snapshot: r.snapshot,
    secrets: Object.fromEntries(r.secrets),
    vars: r.vars,
    ...(light ? { light } : {}),
  };
}

export function fromWire(w: WireResolution): Resolution {
  return {
    spec: w.spec,
    snapshot: w.snapshot,
    secrets: new Map(Object.entries(w.secrets ?? {})),
    vars: w.vars ?? {},
  };
}

export interface OpContext {
  emit: EventSink;
  signal?: AbortSignal;
  /** Log lines of `logs` are streamed through here. */
  line?: (l: LogLine) => void;
  /**
   * For a light reference (the dashboard's): the latest full resolution an operation brought for
   * this environment (the daemon's memory), whose secret values let the deployed revision run
   * again (restart, scale, rollback) as they do after a CLI deploy.
   */
  remembered?: Resolution;
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const bool = (v: unknown) => v === true;
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const strs = (v: unknown) =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
/** A protected operation's typed name and freeze override (engine/protect.ts). */
/** `--group`/`--skip-group` (engine/deploy.ts GroupSelection). */
const groupArgs = (a: Record<string, unknown>) => ({
  groups: strs(a.groups),
  skipGroups: strs(a.skipGroups),
});
const protection = (a: Record<string, unknown>) => ({
  confirmName: str(a.confirmName),
  prompted: bool(a.namePrompted),
  overrideFreeze: str(a.overrideFreeze),
});

/** What every handler receives: the acting Slipway, the resolved request and its arguments. */
interface OpCall {
  slipway: Slipway;
  op: OpName;
  resolution: Resolution;
  spec: ResolvedSpec;
  /** The command's arguments (untyped on the wire: read them through str/bool/num/strs). */
  a: Record<string, unknown>;
  actor: string | undefined;
  ctx: OpContext;
}
type OpHandler = (c: OpCall) => Promise<unknown>;

/**
 * What a log line must not show (a viewer reads logs, never secret values): the resolution's
 * secrets and the deployed services' secret env values (env files are re-read for them).
 */
function logRedactor(r: Resolution): Redactor {
  // A light resolution (nothing deployed yet) may carry no services and no secrets.
  const values = [...(r.secrets?.values() ?? [])];
  for (const svc of Object.values(r.spec.services ?? {}))
    for (const k of svc.secretEnv ?? []) values.push(svc.env?.[k]);
  return makeRedactor(values);
}

async function streamLogs({ slipway, spec, resolution, a, ctx }: OpCall): Promise<{ lines: number }> {
  const redact = logRedactor(resolution);
  let n = 0;
  for await (const l of slipway.logs(spec, str(a.service), {
    tail: num(a.tail),
    sinceMs: num(a.sinceMs),
    follow: bool(a.follow),
    signal: ctx.signal,
    revision: num(a.revision),
  })) {
    ctx.line?.({ ...l, line: redact(l.line) });
    n++;
  }
  return { lines: n };
}

const dataOp: OpHandler = async ({ slipway, op, resolution, a, ctx }) =>
  slipway.dataOp(op, resolution, a, { emit: ctx.emit, signal: ctx.signal });

/** One handler per operation: adding an op to OPS without an entry here does not compile. */
const HANDLERS: Record<OpName, OpHandler> = {
  check: async ({ slipway, resolution, a, actor, ctx }) =>
    slipway.check(resolution, {
      confirm: strs(a.confirm),
      confirmer: { actor, prompted: strs(a.prompted) },
      emit: ctx.emit,
      signal: ctx.signal,
    }),
  plan: async ({ slipway, resolution, a }) => {
    const opts = {
      ...groupArgs(a),
      only: strs(a.only),
      skipChecks: bool(a.skipChecks),
      forceRecreate: a.forceRecreate === true ? (true as const) : strs(a.forceRecreate),
    };
    return bool(a.save) ? slipway.savePlan(resolution, opts) : slipway.plan(resolution, opts);
  },
  deploy: async ({ slipway, resolution, a, actor, ctx }) =>
    slipway.deploy(resolution, {
      ...groupArgs(a),
      only: strs(a.only),
      forceRecreate: a.forceRecreate === true ? true : strs(a.forceRecreate),
      allowDestroy: bool(a.allowDestroy),
      yes: bool(a.yes),
      protection: protection(a),
      dryRun: bool(a.dryRun),
      skipChecks: bool(a.skipChecks),
      savedPlan: a.savedPlan,
      confirm: strs(a.confirm),
      confirmer: { actor, prompted: strs(a.prompted) },
      description: str(a.description),
      emit: ctx.emit,
      signal: ctx.signal,
    }),
  rollback: async ({ slipway, resolution, a, ctx }) =>
    slipway.rollback(resolution, {
      revision: num(a.revision),
      ref: str(a.ref),
      label: str(a.label),
      yes: bool(a.yes),
      protection: protection(a),
      withDb: bool(a.withDb),
      dryRun: bool(a.dryRun),
      emit: ctx.emit,
      signal: ctx.signal,
    }),
  restart: async ({ slipway, resolution, a, ctx }) =>
    slipway.restart(resolution, {
      service: str(a.service),
      dryRun: bool(a.dryRun),
      emit: ctx.emit,
      signal: ctx.signal,
    }),
  scale: async ({ slipway, resolution, a, ctx }) =>
    slipway.scale(resolution, str(a.service) ?? "", num(a.replicas) ?? Number.NaN, {
      emit: ctx.emit,
      signal: ctx.signal,
    }),
  secrets: async ({ slipway, resolution }) => slipway.secrets(resolution),
  status: async ({ slipway, spec, a }) => slipway.status(spec, { probe: a.probe !== false }),
  health: async ({ slipway, spec }) => slipway.health(spec),
  history: async ({ slipway, spec, a }) =>
    slipway.history(spec.project, spec.env, { revision: num(a.revision), limit: num(a.limit) }),
  logs: streamLogs,
  exec: async ({ slipway, resolution, a, ctx }) =>
    slipway.exec(resolution, str(a.service) ?? "", strs(a.command) ?? [], {
      instance: str(a.instance),
      timeoutMs: num(a.timeoutMs),
      signal: ctx.signal,
    }),
  stats: async ({ slipway, spec, a }) => slipway.stats(spec, str(a.service)),
  smoke: async ({ slipway, spec, a }) => slipway.smoke(spec, str(a.service)),
  rules: async ({ slipway, spec }) => slipway.ruleStates(spec),
  "runbook-runs": async ({ slipway, spec, a }) =>
    slipway.runbookRuns(spec, { name: str(a.name), limit: num(a.limit) }),
  runbook: async ({ slipway, resolution, a, ctx }) =>
    slipway.runbook(resolution, str(a.name) ?? "", { emit: ctx.emit, signal: ctx.signal }),
  stop: async ({ slipway, resolution, a, ctx }) =>
    slipway.stop(resolution, { service: str(a.service), emit: ctx.emit }),
  destroy: async ({ slipway, resolution, a, ctx }) =>
    slipway.destroy(resolution, {
      yes: bool(a.yes),
      protection: protection(a),
      deleteNamespace: bool(a.deleteNamespace),
      emit: ctx.emit,
    }),
  prune: async ({ slipway, resolution, a, ctx }) =>
    slipway.prune(resolution, { keep: num(a.keep), emit: ctx.emit }),
  lock: async ({ slipway, spec, a, ctx }) => {
    if (bool(a.release)) return slipway.releaseLock(spec.project, spec.env, ctx.emit);
    return { lock: (await slipway.getLock(spec.project, spec.env)) ?? null };
  },
  alerts: async ({ slipway, resolution, a }) =>
    (await import("./notify/alert-commands.js")).alertsOp(slipway.notify, resolution, a),
  silence: async ({ slipway, resolution, a }) =>
    (await import("./notify/alert-commands.js")).silenceOp(slipway.notify, resolution, a),
  backup: dataOp,
  backups: dataOp,
  "backup-verify": dataOp,
  "backups-prune": dataOp,
  restore: dataOp,
  migrate: dataOp,
};

/** Operations on data that run from a light reference's deployed spec (an operator's backup). */
const RUNS_DATA = new Set(["backup", "backup-verify", "restore", "migrate"]);

/**
 * The deployed revision's resolution with the values an earlier operation brought (same
 * environment only): in its secrets and in its spec (a backup's `url: ${DATABASE_URL}`).
 */
async function withValues(
  slipway: Slipway,
  op: string,
  ref: ResolvedSpec,
  remembered: Resolution | undefined,
): Promise<Resolution> {
  const same = remembered?.spec.project === ref.project && remembered.spec.env === ref.env;
  // A backup's `url`/`paths` from a variable: without its value it would run against "".
  const strict = RUNS_DATA.has(op);
  if (!same) return slipway.deployedResolution(ref, undefined, strict);
  const r = await slipway.deployedResolution(ref, remembered.secrets, strict);
  return { ...r, secrets: new Map(remembered.secrets), vars: remembered.vars };
}

export async function runOp(
  slipway: Slipway,
  op: string,
  payload: OpPayload,
  ctx: OpContext,
): Promise<unknown> {
  slipway = slipway.actingFor(str(payload.actor)?.slice(0, 200));
  const resolution = payload.resolution.light
    ? await withValues(slipway, op, payload.resolution.spec, ctx.remembered)
    : fromWire(payload.resolution);
  const spec = resolution.spec;
  // Alerts: the latest configuration (a light reference carries none), and every event to the
  // engine's subscribers (notifier).
  if (!payload.resolution.light) await slipway.notify?.configure(resolution);
  const show = ctx.emit;
  ctx = {
    ...ctx,
    emit: (e) => {
      show(e);
      slipway.publish(spec.project, spec.env, e);
    },
  };
  // Own keys only: "constructor" and friends are unknown operations, not Object's methods.
  if (!Object.hasOwn(HANDLERS, op)) throw new UsageError(`unknown operation "${op}"`);
  const handler = HANDLERS[op as OpName];
  return handler({
    slipway,
    op: op as OpName,
    resolution,
    spec,
    a: payload.args ?? {},
    actor: str(payload.actor),
    ctx,
  });
}

/** Errors as JSON for the wire and for --json output. */
export interface WireError {
  name: string;
  message: string;
  details?: Record<string, unknown>;
  /** The documented exit code, from the error's class (subclasses keep their family's code). */
  exitCode?: number;
}

export function toWireError(e: unknown): WireError {
  if (e instanceof SlipwayError)
    return { name: e.name, message: e.message, details: e.details, exitCode: exitCodeOf(e) };
  if (e instanceof Error) return { name: "InternalError", message: e.message, details: { stack: e.stack } };
  return { name: "InternalError", message: String(e) };
}
