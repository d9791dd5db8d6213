/** `finalize`: promote the fresh instances and retire (or keep warm) the ones they replace. */
import { proxied } from "../../spec/defaults.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { EngineDeps } from "../context.js";
import { stopInstances, type RolloutState } from "../strategies/common.js";
import { isWarm } from "../warm.js";
import type { StepRunner } from "./step.js";

export const finalizeStep: StepRunner = {
  async run(_step, { deps, spec, states, revision }) {
    await finalize(deps, spec, states);
    return `revision ${revision} deployed`;
  },
};

/**
 * Promote the fresh instances. The old ones of a service with a port stay warm for
 * `rollout.keepWarm` (a rollback inside the window is a switch); the rest are drained and stopped.
 */
export async function finalize(deps: EngineDeps, spec: ResolvedSpec, states: RolloutState[]): Promise<void> {
  for (const st of states) {
    for (const inst of st.fresh)
      await deps.store.putInstance({ ...inst, slot: "stable", warmUntil: undefined });
  }
  await Promise.all(
    states.map(async (st) => {
      const svc = spec.services[st.service];
      // One warm generation at most: the instances warm from an earlier deploy go now.
      const fresh = new Set(st.fresh.map((i) => i.id));
      const records = await deps.store.listInstances(spec.project, spec.env);
      const staleWarm = records.filter((i) => i.service === st.service && isWarm(i) && !fresh.has(i.id));
      if (staleWarm.length) await stopInstances(deps, svc, staleWarm, "superseded");
      if (st.oldStopped || !st.old.length) return;
      if (proxied(svc) && svc.rollout.keepWarm > 0) {
        const until = new Date(Date.now() + svc.rollout.keepWarm).toISOString();
        for (const inst of st.old)
          await deps.store.putInstance({ ...inst, slot: "stable", warmUntil: until });
        return;
      }
      if (proxied(svc)) {
        const router = await deps.router();
        await router.waitDrained(
          st.old.map((i) => i.id),
          svc.rollout.drainTimeout,
        );
      }
      await stopInstances(deps, svc, st.old, "superseded");
    }),
  );
}
