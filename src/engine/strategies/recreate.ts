/**
 * recreate: stop the old instances, then start the new ones (stateful services: never two
 * at once). Undoing it restarts the previous release.
 */
import { proxied } from "../../spec/defaults.js";
import {
  gateHealthy,
  rollout,
  routeKey,
  routeTo,
  smoke,
  startSlot,
  stopInstances,
  type RolloutRequest,
  type RolloutState,
} from "./common.js";

/**
 * A service that was proxied before and binds its port directly now (proxy: false, or a stateful
 * service deployed by a Slipway that proxied it): its old route still holds the public port.
 * Old instances on another port than the public one were behind the proxy.
 */
async function releaseOldRoute(req: RolloutRequest): Promise<void> {
  const { svc } = req;
  if (proxied(svc) || svc.port === undefined) return;
  if (!req.old.some((i) => i.port !== undefined && i.port !== svc.port)) return;
  await (await req.deps.router()).removeRoute(routeKey(req.spec, svc.name));
}

export function recreate(req: RolloutRequest): Promise<RolloutState> {
  return rollout(req, async (state, phase) => {
    await phase("stopping-old");
    await stopInstances(req.deps, req.svc, req.old, "superseded");
    state.oldStopped = true;
    await releaseOldRoute(req);
    state.fresh = await startSlot(req, "candidate");
    await phase("started");
    await gateHealthy(req, state.fresh);
    await routeTo(req, state.fresh);
    state.routed = true;
    await smoke(req);
  });
}
