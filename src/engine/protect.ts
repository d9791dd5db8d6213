/** Protection rules of an environment (`protect:`): what a changing operation must bring. */
import { Refused } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";

/**
 * Refuse `what` (deploy, rollback, destroy) when the environment is protected and it was not
 * confirmed, or when a Kubernetes target's context is not the one the environment must run on.
 */
export function protect(spec: ResolvedSpec, what: string, yes?: boolean): void {
  const p = spec.protect;
  if (!p) return;
  if (p.context && spec.target.kind === "kubernetes") {
    const ctx = ("context" in spec.target ? spec.target.context : undefined) ?? "";
    if (!ctx.includes(p.context))
      throw new Refused(
        `environment "${spec.env}" must run on a context containing "${p.context}", target context is "${ctx || "(default)"}"`,
      );
  }
  if (p.confirm && !yes)
    throw new Refused(`environment "${spec.env}" is protected: ${what} needs --yes (nothing was changed)`);
}
