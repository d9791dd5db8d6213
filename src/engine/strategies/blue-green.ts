/**
 * blue-green: start the candidate slot beside the stable one, wait until it is healthy,
 * switch traffic at once (the proxy drains the old slot), smoke-test through the public port.
 * The old instances keep running until the deploy is finalized, so undoing is a switch back.
 */
import type { Instance } from "../../drivers/driver.js";
import {
  gateHealthy,
  rollout,
  routeTo,
  smoke,
  startSlot,
  type RolloutRequest,
  type RolloutState,
} from "./common.js";

export function blueGreen(req: RolloutRequest): Promise<RolloutState> {
  return rollout(req, async (state, phase) => {
    const warm = await reusableWarm(req);
    if (warm) {
      req.emit({
        type: "log",
        level: "info",
        service: req.svc.name,
        message: `${req.svc.name}: switching back to ${warm.length} warm instance(s) of ${req.spec.version}`,
      });
    }
    state.fresh = warm ?? (await startSlot(req, "candidate"));
    await phase("started");
    await gateHealthy(req, state.fresh);
    await routeTo(req, state.fresh);
    state.routed = true;
    await phase("routed");
    await smoke(req);
  });
}

/**
 * Warm instances running exactly this release (same artifact and version, enough of them, all
 * answering their probe): a rollback inside the keep-warm window reuses them instead of starting.
 */
async function reusableWarm(req: RolloutRequest): Promise<Instance[] | undefined> {
  const match = (req.warm ?? []).filter(
    (i) => i.artifact === req.artifact.ref && i.version === req.spec.version && i.port !== undefined,
  );
  if (req.svc.port === undefined || match.length < req.svc.replicas) return undefined;
  const chosen = match.slice(0, req.svc.replicas);
  const checks = await Promise.all(
    chosen.map((i) => req.deps.health(req.svc, i, req.signal, { once: true })),
  );
  return checks.every((c) => c.healthy) ? chosen : undefined;
}
