/**
 * The health gate on a cluster: the kubelet runs the probes (readiness from `health`), so Slipway
 * waits on the pod's Ready condition instead of probing from outside, and fails at once, with the
 * reason and the pod's Warning events, on what waiting will not heal: CrashLoopBackOff,
 * ImagePullBackOff, OOMKilled, Unschedulable.
 */
import type { ResolvedService } from "../../spec/resolved.js";
import type { Instance } from "../driver.js";

export interface GateOutcome {
  healthy: boolean;
  message: string;
  attempts: number;
}

type Live = (inst: Instance) => Promise<Instance | undefined>;

export function podReadinessGate(live: Live, pollMs = 100) {
  return async (
    svc: ResolvedService,
    inst: Instance,
    signal?: AbortSignal,
    opts?: { once?: boolean },
  ): Promise<GateOutcome> => {
    const giveUpAt = Date.now() + (svc.health?.startTimeout ?? 60_000);
    for (let attempts = 1; ; attempts++) {
      const now = await live(inst);
      const pod = typeof now?.meta?.pod === "string" ? `pod ${now.meta.pod}` : `instance ${inst.id}`;
      if (!now) return { healthy: false, message: `${pod} is gone`, attempts };
      const problem = now.meta?.problem;
      if (typeof problem === "string") {
        const events = Array.isArray(now.meta?.events) ? (now.meta.events as string[]) : [];
        const said = events.length ? `; events: ${events.join("; ")}` : "";
        return { healthy: false, message: `${pod}: ${problem}${said}`, attempts };
      }
      if (now.meta?.ready === true) return { healthy: true, message: `${pod} is ready`, attempts };
      if (opts?.once) return { healthy: false, message: `${pod} is not ready`, attempts };
      if (signal?.aborted) return { healthy: false, message: "wait cancelled", attempts };
      if (Date.now() > giveUpAt)
        return {
          healthy: false,
          message: `${pod} not ready ${Math.round((svc.health?.startTimeout ?? 60_000) / 1000)}s after it was created`,
          attempts,
        };
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
}
