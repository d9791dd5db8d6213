/** Reading a revision's analysis evidence: a tiny module, so `slipway history` loads no engine. */
import type { AnalysisEvidence } from "./analysis-gate.js";

/** The evidence stored in a revision's facts, if any (tolerates facts written by older builds). */
export function evidenceOf(facts: Record<string, unknown> | undefined): AnalysisEvidence[] {
  const a = facts?.analysis;
  return Array.isArray(a)
    ? a.filter((x): x is AnalysisEvidence => !!x && typeof x === "object" && "result" in x)
    : [];
}
