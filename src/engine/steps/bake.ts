/** `bake`: the release's analysis window after every rollout, before it is promoted. */
import type { StepRunner } from "./step.js";

export const bakeStep: StepRunner = {
  run: (_step, { analysis, states, signal }) =>
    analysis ? analysis.bake(states, signal) : Promise.resolve("no analysis"),
};
