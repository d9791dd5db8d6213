/** The variables Slipway gives every instance, from the resolved spec (every target alike). */
import type { ResolvedService, ResolvedSpec } from "./resolved.js";

export function instanceEnv(
  spec: ResolvedSpec,
  svc: ResolvedService,
  revision: number,
): Record<string, string> {
  return {
    ...svc.env,
    SLIPWAY_VERSION: spec.version,
    SLIPWAY_ENV: spec.env,
    SLIPWAY_SERVICE: svc.name,
    SLIPWAY_REVISION: String(revision),
    SLIPWAY_PROJECT: spec.project,
  };
}
