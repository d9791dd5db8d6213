/**
 * recreate: stop the old instances, then start the new ones (stateful services: never two
 * at once). Undoing it restarts the previous release.
 */
import {
  gateHealthy,
  rollout,
  routeTo,
  smoke,
  startSlot,
  stopInstances,
  type RolloutRequest,
  type RolloutState,
} from "./common.js";

export function recreate(req: RolloutRequest): Promise<RolloutState> {
  return rollout(req, async (state, phase) => {
    await phase("stopping-old");
    await stopInstances(req.deps, req.svc, req.old);
    state.oldStopped = true;
    state.fresh = await startSlot(req, "candidate");
    await phase("started");
    await gateHealthy(req, state.fresh);
    await routeTo(req, state.fresh);
    state.routed = true;
    await smoke(req);
  });
}
