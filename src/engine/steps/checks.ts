/** `checks`: the pre-flight checklist; a failure stops the deploy before anything changes. */
import { CheckFailed } from "../../errors.js";
import type { StepRunner } from "./step.js";

export const checksStep: StepRunner = {
  async run(_step, { opts, spec, emit, revision, facts, signal }) {
    if (!opts.checks) return "no check runner";
    const r = await opts.checks(spec, emit, signal);
    facts.checks = r.results;
    if (!r.ok) {
      emit({
        type: "alert",
        kind: "check.failed",
        severity: "warning",
        revision,
        message: `${spec.project} ${spec.env}: pre-flight checks failed: ${r.summary}`,
      });
      throw new CheckFailed(`pre-flight checks failed: ${r.summary}`);
    }
    return r.summary;
  },
};
