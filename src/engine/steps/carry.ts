/**
 * `carry`: an unchanged service keeps its running instances; the new revision records which
 * revision they belong to (heal, the sweep and the watch look there) and reuses its artifact.
 */
import { artifactRevision } from "../artifacts.js";
import type { StepRunner } from "./step.js";

export const carryStep: StepRunner = {
  async run(step, { opts, facts, artifactRevs, live }) {
    const name = step.service as string;
    const from = step.fromRevision as number;
    facts.carried = { ...(facts.carried as Record<string, number> | undefined), [name]: from };
    artifactRevs[name] = artifactRevision(opts.current, name) ?? from;
    const kept = live.filter((i) => i.service === name && i.revision === from && i.warmUntil === undefined);
    return `unchanged, carried over: ${kept.length} instance(s) of revision ${from} kept running`;
  },
};
