/**
 * recreate: stop the old instances, then start the new ones (stateful services: never two
 * at once). Undoing it restarts the previous release.
 */
import {
  gateHealthy,
  routeTo,
  smoke,
  startSlot,
  stopInstances,
  type RolloutRequest,
  type RolloutState,
} from "./common.js";

export async function recreate(req: RolloutRequest): Promise<RolloutState> {
  const state: RolloutState = {
    service: req.svc.name,
    old: req.old,
    fresh: [],
    oldStopped: false,
    routed: false,
  };
  await req.record({ old: req.old.map((i) => i.id), phase: "stopping-old" });
  try {
    await stopInstances(req.deps, req.svc, req.old);
    state.oldStopped = true;
    state.fresh = await startSlot(req, "candidate");
    await req.record({
      fresh: state.fresh.map((i) => i.id),
      old: req.old.map((i) => i.id),
      phase: "started",
    });
    await gateHealthy(req, state.fresh);
    await routeTo(req, state.fresh);
    state.routed = true;
    await smoke(req);
  } catch (e) {
    (e as { rollout?: RolloutState }).rollout = state;
    throw e;
  }
  return state;
}
