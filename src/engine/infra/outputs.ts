/**
 * `${tf.NAME}` in the services' fields: Terraform outputs (Compose-style `${VAR}` interpolation
 * leaves them alone: a dotted name is not a variable). Values the plan knows are filled in when
 * the deploy is planned; the others after the apply (steps/terraform.ts). A revision records the
 * outputs it ran with (`facts.tfOutputs`), so a rollback to it gets the same values.
 */
import { UsageError } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { TerraformSummary } from "./terraform.js";

const REF = /\$\{tf\.([A-Za-z0-9_-]+)\}/g;

function substitute(v: unknown, outputs: Record<string, unknown>, used: Set<string>): unknown {
  if (typeof v === "string")
    return v.replace(REF, (whole, n: string) => {
      used.add(n);
      const o = outputs[n];
      return o === undefined ? whole : typeof o === "string" ? o : JSON.stringify(o);
    });
  if (Array.isArray(v)) return v.map((x) => substitute(x, outputs, used));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, outputs, used)]));
  return v;
}

/** The spec with the outputs filled in, and the names still unfilled. */
export function substituteOutputs(
  spec: ResolvedSpec,
  outputs: Record<string, unknown>,
): { spec: ResolvedSpec; unfilled: string[] } {
  const used = new Set<string>();
  const services = substitute(spec.services, outputs, used) as ResolvedSpec["services"];
  return {
    spec: used.size ? { ...spec, services } : spec,
    unfilled: [...used].filter((n) => !(n in outputs)),
  };
}

/** Services whose fields still hold a `${tf.NAME}` (filled in only after the apply). */
export function pendingServices(spec: ResolvedSpec): string[] {
  return Object.values(spec.services)
    .filter((s) => substituteOutputs({ ...spec, services: { [s.name]: s } }, {}).unfilled.length)
    .map((s) => s.name);
}

/**
 * The resolution with the outputs the plans know filled in. A name that is no output of any
 * step, or a sensitive one (a revision would store it), is a usage error (exit 2).
 */
export function withTerraformOutputs(resolution: Resolution, plans: TerraformSummary[]): Resolution {
  const outputs: Record<string, unknown> = {};
  for (const p of plans) Object.assign(outputs, p.outputs);
  const { spec, unfilled } = substituteOutputs(resolution.spec, outputs);
  const bad = unfilled.filter((n) => !plans.some((p) => p.unknownOutputs.includes(n)));
  if (bad.length) {
    const why = (n: string) =>
      plans.some((p) => p.sensitiveOutputs.includes(n))
        ? "a sensitive output (a revision would store it): pass it through a secret instead"
        : `not an output of ${plans.map((p) => p.name).join(", ") || "any infrastructure step (see infrastructure:)"}`;
    throw new UsageError(bad.map((n) => `\${tf.${n}}: ${why(n)}`).join("; "));
  }
  if (spec === resolution.spec) return resolution;
  return { ...resolution, spec, snapshot: substituteOutputs(resolution.snapshot, outputs).spec };
}
