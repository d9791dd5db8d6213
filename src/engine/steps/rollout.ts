/** `rollout`: start a service's new instances with its strategy; the state goes to finalize/undo. */
import { blueGreen } from "../strategies/blue-green.js";
import { canary } from "../strategies/canary.js";
import type { RolloutState } from "../strategies/common.js";
import { recreate } from "../strategies/recreate.js";
import { serviceOf, type StepRunner } from "./step.js";

export const rolloutStep: StepRunner = {
  async run(step, ctx) {
    const s = serviceOf(step, ctx);
    const req = ctx.request(s, step);
    let state: RolloutState;
    try {
      state =
        s.rollout.strategy === "recreate"
          ? await recreate(req)
          : s.rollout.strategy === "canary"
            ? await canary(req, ctx.opts.canaryGate ?? ctx.analysis?.canaryGate)
            : await blueGreen(req);
    } catch (e) {
      // What the strategy did before it failed is undone too.
      const partial = (e as { rollout?: RolloutState }).rollout;
      if (partial) ctx.states.push(partial);
      throw e;
    }
    ctx.states.push(state);
    // A rollback that switched back to a warm slot serves with that slot's (older) instances.
    const from = state.fresh[0]?.revision;
    if (from !== undefined && from !== ctx.revision)
      ctx.facts.carried = { ...(ctx.facts.carried as Record<string, number> | undefined), [s.name]: from };
    return `${state.fresh.length} instance(s) healthy${state.routed && s.port ? `, serving :${s.port}` : ""}`;
  },
};
