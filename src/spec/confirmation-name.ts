/** The name a `protect: { confirm: name }` environment is confirmed with (light: the CLI asks for it). */
import type { ResolvedSpec } from "./resolved.js";

/** The cluster's name when the target names one (a Kubernetes context), else the environment's. */
export function confirmationName(spec: Pick<ResolvedSpec, "env" | "target">): string {
  const t = spec.target as { kind: string; context?: string };
  return (t.kind === "kubernetes" && t.context) || spec.env;
}
