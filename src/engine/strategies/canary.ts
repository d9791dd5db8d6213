/**
 * canary: start the candidate slot, shift traffic in steps (weight, pause), then promote.
 * An abort returns all traffic to stable at once (the undo of a rollout that is not routed).
 */
import { errorMessage } from "../../errors.js";
import { formatDuration } from "../../util/units.js";
import {
  gateHealthy,
  rollout,
  routeTo,
  smoke,
  startSlot,
  type RolloutRequest,
  type RolloutState,
} from "./common.js";

export type StepGate = (
  req: RolloutRequest,
  state: RolloutState,
  weight: number,
  pauseMs: number,
) => Promise<void>;

/** Default gate between steps: hold the weight for the pause (analysis plugs in here). */
export const pauseGate: StepGate = (req, _state, _weight, pauseMs) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, pauseMs);
    req.signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(new Error("interrupted"));
    });
  });

export function canary(req: RolloutRequest, gate: StepGate = pauseGate): Promise<RolloutState> {
  return rollout(req, async (state, phase) => {
    state.fresh = await startSlot(req, "candidate");
    await phase("started");
    await gateHealthy(req, state.fresh);
    for (const step of req.svc.rollout.steps) {
      if (!req.old.length) break;
      await routeTo(req, req.old, state.fresh, step.weight);
      req.emit({
        type: "log",
        level: "info",
        service: req.svc.name,
        message: `${req.svc.name}: ${step.weight}% of traffic on the candidate for ${formatDuration(step.pause)}`,
      });
      try {
        await gate(req, state, step.weight, step.pause);
      } catch (e) {
        await routeTo(req, req.old);
        throw new Error(`canary aborted at ${step.weight}%: ${errorMessage(e)}`);
      }
    }
    await routeTo(req, state.fresh);
    state.routed = true;
    await phase("routed");
    await smoke(req);
  });
}
