/**
 * blue-green: start the candidate slot beside the stable one, wait until it is healthy,
 * switch traffic at once (the proxy drains the old slot), smoke-test through the public port.
 * The old instances keep running until the deploy is finalized, so undoing is a switch back.
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

export async function blueGreen(req: RolloutRequest): Promise<RolloutState> {
  const state: RolloutState = {
    service: req.svc.name,
    old: req.old,
    fresh: [],
    oldStopped: false,
    routed: false,
  };
  state.fresh = await startSlot(req, "candidate");
  await req.record({ fresh: state.fresh.map((i) => i.id), old: req.old.map((i) => i.id), phase: "started" });
  try {
    await gateHealthy(req, state.fresh);
    await routeTo(req, state.fresh);
    state.routed = true;
    await req.record({ fresh: state.fresh.map((i) => i.id), old: req.old.map((i) => i.id), phase: "routed" });
    await smoke(req);
  } catch (e) {
    (e as { rollout?: RolloutState }).rollout = state;
    throw e;
  }
  return state;
}

/** Used by undo when a candidate never got traffic. */
export async function discardCandidates(req: RolloutRequest, state: RolloutState): Promise<void> {
  await stopInstances(req.deps, req.svc, state.fresh);
}
