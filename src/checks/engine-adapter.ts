/**
 * The pre-flight step as the engine calls it (engine/run.ts CheckRunner): run the spec's
 * checks, emit one log event per result, and say whether the deploy may go on. The emit
 * parameter is typed structurally so this module does not depend on the engine.
 */
import { formatCheckResult } from "./format.js";
import { gpuRuntimeChecks, type GpuService } from "./gpu-runtime.js";
import { runChecks, summarizeChecks } from "./runner.js";
import type { CheckContext, CheckResult, CheckSpec } from "./types.js";

export type CheckEmit = (e: { type: "log"; level: "info" | "warn" | "error"; message: string }) => void;

export type CheckRunnerOptions = Omit<CheckContext, "cwd" | "signal" | "onResult">;

export function createCheckRunner(opts: CheckRunnerOptions): (
  /** `services`: those requesting GPUs get an automatic GPU-runtime item per host (opts.target). */
  spec: { dir: string; checks: CheckSpec[]; services?: Record<string, GpuService> },
  emit: CheckEmit,
  signal?: AbortSignal,
) => Promise<{ ok: boolean; summary: string; results: CheckResult[] }> {
  // An iterator (Map.values()) would be used up by the first run.
  const secrets = opts.secrets === undefined ? undefined : [...opts.secrets];
  return async (spec, emit, signal) => {
    const results = await runChecks(spec.checks, {
      ...opts,
      ...(secrets ? { secrets } : {}),
      cwd: spec.dir,
      automatic: gpuRuntimeChecks(Object.values(spec.services ?? {}), opts.target),
      ...(signal ? { signal } : {}),
      onResult: (r) =>
        emit({
          type: "log",
          level: r.status === "failed" ? "error" : r.status === "warning" ? "warn" : "info",
          message: formatCheckResult(r),
        }),
    });
    return { results, ...summarizeChecks(results) };
  };
}
