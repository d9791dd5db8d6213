/**
 * The `alerts` and `silence` operations (operations.ts hands them here): argument checks and the
 * calls into the hub, the same for the daemon and --in-process.
 */
import { UsageError } from "../errors.js";
import type { Resolution } from "../spec/resolve.js";
import type { NotifierHub } from "./hub.js";
import type { Severity } from "./types.js";

const SEVERITIES: readonly Severity[] = ["critical", "warning", "info"];

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

function hubOf(hub: NotifierHub | undefined): NotifierHub {
  if (!hub) throw new UsageError("alerts are not available in this engine (no notifier hub)");
  return hub;
}

export async function alertsOp(
  hub: NotifierHub | undefined,
  resolution: Resolution,
  args: Record<string, unknown>,
): Promise<unknown> {
  const { project, env } = resolution.spec;
  const h = hubOf(hub);
  switch (args.action) {
    case "list": {
      const limit = args.limit === undefined ? 20 : args.limit;
      if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new UsageError(`--limit: expected a whole number from 1 to 1000, got ${String(limit)}`);
      return { project, env, deliveries: await h.listDeliveries(project, env, { limit }) };
    }
    case "test": {
      const severity = (args.severity ?? "critical") as Severity;
      if (!SEVERITIES.includes(severity))
        throw new UsageError(
          `--severity: expected one of ${SEVERITIES.join(", ")}, got "${String(args.severity)}"`,
        );
      return h.test(project, env, { severity });
    }
    default:
      throw new UsageError(`alerts: unknown action "${String(args.action)}" (list, test)`);
  }
}

export async function silenceOp(
  hub: NotifierHub | undefined,
  resolution: Resolution,
  args: Record<string, unknown>,
): Promise<unknown> {
  const { project, env } = resolution.spec;
  const h = hubOf(hub);
  switch (args.action) {
    case "add": {
      const m = args.matchers;
      if (!m || typeof m !== "object" || Array.isArray(m))
        throw new UsageError("silence add: give matchers as label=value, e.g. service=api");
      const matchers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
        if (typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string")))
          matchers[k] = v as string | string[];
        else throw new UsageError(`silence add: matcher "${k}" must be text`);
      }
      return h.addSilence(project, env, {
        matchers,
        duration: str(args.duration),
        author: str(args.author) ?? "",
        comment: str(args.comment) ?? "",
      });
    }
    case "list":
      return { project, env, silences: await h.listSilences(project, env, { all: args.all === true }) };
    case "expire": {
      const id = str(args.id);
      if (!id) throw new UsageError("silence expire: give the silence id (see: slipway silence list ENV)");
      return h.expireSilence(project, env, id);
    }
    default:
      throw new UsageError(`silence: unknown action "${String(args.action)}" (add, list, expire)`);
  }
}
