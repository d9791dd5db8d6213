/** Protection rules of an environment (`protect:`): what a changing operation must bring. */
import { Refused } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineEvent } from "./events.js";
import { confirmationName } from "../spec/confirmation-name.js";
import { activeFreeze } from "../spec/freeze.js";

export { confirmationName };

/** How the person running a changing command confirmed it (the CLI's flags and prompt). */
export interface Confirmation {
  /** `--yes`. */
  yes?: boolean;
  /** `--confirm-name NAME`, or the name typed at the prompt. */
  confirmName?: string;
  /** The name was typed at an interactive prompt (not given as a flag). */
  prompted?: boolean;
  /** `--override-freeze REASON` (deploy only). */
  overrideFreeze?: string;
  /** The live kubeconfig context (EngineDeps.kubeContext), for `protect.context`. */
  kubeContext?: string;
}

/** What a protected operation records with its revision (or event): who confirmed, how, and why. */
export interface ProtectionRecord {
  actor: string;
  operation: string;
  /** "yes" (--yes), "name" (--confirm-name) or "prompt" (the name typed at a terminal). */
  via?: "yes" | "name" | "prompt";
  /** A freeze the deploy ran inside of, and the reason given to override it. */
  freeze?: { window: string; reason: string };
}

/**
 * `protect.context`: the kubeconfig context really in use (read from the live kubeconfig when the
 * engine knows it, else the spec's `target.context`) must contain the given text.
 */
function checkContext(spec: ResolvedSpec, live: string | undefined): void {
  const p = spec.protect;
  if (!p?.context || spec.target.kind !== "kubernetes") return;
  const ctx = live ?? ("context" in spec.target ? spec.target.context : undefined) ?? "";
  if (!ctx.includes(p.context))
    throw new Refused(
      `environment "${spec.env}" must run on a kubeconfig context containing "${p.context}", but the ${live !== undefined ? "kubeconfig's" : "target's"} context is "${ctx || "(default)"}"`,
    );
}

function checkConfirmed(spec: ResolvedSpec, what: string, c: Confirmation): ProtectionRecord["via"] {
  const p = spec.protect;
  if (!p?.confirm) return undefined;
  if (p.confirm !== "name") {
    if (c.yes || c.confirmName !== undefined) return c.confirmName !== undefined ? "name" : "yes";
    throw new Refused(`environment "${spec.env}" is protected: ${what} needs --yes (nothing was changed)`);
  }
  const name = confirmationName(spec);
  if (c.confirmName === undefined)
    throw new Refused(
      `environment "${spec.env}" is protected by name: ${what} needs the name typed at a terminal or --confirm-name ${name}${c.yes ? " (--yes alone is not enough)" : ""} (nothing was changed)`,
    );
  if (c.confirmName !== name)
    throw new Refused(
      `environment "${spec.env}": the name given ("${c.confirmName}") is not "${name}"; ${what} refused (nothing was changed)`,
    );
  return c.prompted ? "prompt" : "name";
}

/**
 * Refuse `what` (deploy, rollback, destroy) when the environment is protected and it was not
 * confirmed, when a Kubernetes target's context is not the one the environment must run on, or
 * (deploy only) inside a freeze not overridden. Returns what to record, undefined when unprotected.
 */
export function protect(
  spec: ResolvedSpec,
  what: string,
  confirmation: boolean | Confirmation | undefined,
  actor = "unknown",
  now = new Date(),
): ProtectionRecord | undefined {
  const c: Confirmation = typeof confirmation === "object" ? confirmation : { yes: !!confirmation };
  const p = spec.protect;
  if (!p) return undefined;
  checkContext(spec, c.kubeContext);
  const record: ProtectionRecord = { actor, operation: what };
  if (what === "deploy" && p.freeze?.length) {
    const window = activeFreeze(p.freeze, now);
    if (window && !c.overrideFreeze?.trim())
      throw Object.assign(
        new Refused(
          `environment "${spec.env}" is in the deploy freeze "${window}": deploy refused (override with --override-freeze REASON; nothing was changed)`,
        ),
        { details: { freeze: window } },
      );
    if (window) record.freeze = { window, reason: (c.overrideFreeze as string).trim() };
  }
  const via = checkConfirmed(spec, what, c);
  if (via) record.via = via;
  return via || record.freeze ? record : undefined;
}

/** The revision facts of a protected operation (`facts.protection`), none when unprotected. */
export function protectionFacts(r: ProtectionRecord | undefined): Record<string, unknown> | undefined {
  return r ? { protection: r } : undefined;
}

/**
 * The event timeline's record of a confirmation (an operation without a revision, destroy) and of
 * every freeze override (a warning, routed as alerts are).
 */
export function protectionEvent(
  spec: ResolvedSpec,
  r: ProtectionRecord | undefined,
  withRevision: boolean,
): EngineEvent | undefined {
  if (!r) return undefined;
  if (r.freeze)
    return {
      type: "alert",
      kind: "protect.freeze-overridden",
      severity: "warning",
      message: `${spec.project} ${spec.env}: ${r.operation} inside the freeze "${r.freeze.window}" by ${r.actor}: ${r.freeze.reason}`,
      data: { ...r },
    };
  if (withRevision) return undefined;
  return {
    type: "alert",
    kind: "protect.confirmed",
    severity: "info",
    message: `${spec.project} ${spec.env}: ${r.operation} confirmed by ${r.actor} (${r.via})`,
    data: { ...r },
  };
}
