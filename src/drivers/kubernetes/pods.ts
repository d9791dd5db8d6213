/**
 * What a pod's status says about an instance: running and ready, still starting, or broken in a
 * way that will not heal by waiting (the health gate fails at once on those, with the reason).
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { InstanceState } from "../driver.js";

/** Waiting reasons and termination reasons that end a rollout's wait at once. */
const BROKEN = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "OOMKilled",
]);

export interface PodView {
  name: string;
  state: InstanceState;
  ready: boolean;
  restarts: number;
  /** Why the pod cannot become ready (reason: message), when it cannot. */
  problem?: string;
  startedAt?: string;
}

export function viewOf(pod: V1Pod): PodView {
  const st = pod.status;
  const cs = st?.containerStatuses ?? [];
  const ready = st?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  const name = pod.metadata?.name ?? "";
  const unscheduled = st?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  let problem: string | undefined;
  for (const c of cs) {
    const w = c.state?.waiting;
    const last = c.lastState?.terminated ?? c.state?.terminated;
    if (last?.reason === "OOMKilled")
      problem = `OOMKilled: container ${c.name} ran out of memory (exit ${last.exitCode})`;
    else if (w?.reason && BROKEN.has(w.reason))
      problem =
        `${w.reason}: ${w.message ?? ""}${last ? ` (last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ""})` : ""}`.trim();
  }
  if (!problem && unscheduled?.reason === "Unschedulable")
    problem = `Unschedulable: ${unscheduled.message ?? "no node can run the pod"}`;
  const state: InstanceState =
    problem?.startsWith("CrashLoopBackOff") || problem?.startsWith("OOMKilled")
      ? "crashloop"
      : st?.phase === "Failed" || st?.phase === "Succeeded"
        ? "exited"
        : ready
          ? "running"
          : "starting";
  const started = st?.startTime as Date | string | undefined;
  return {
    name,
    state,
    ready,
    restarts,
    ...(problem ? { problem } : {}),
    ...(started ? { startedAt: new Date(started).toISOString() } : {}),
  };
}
