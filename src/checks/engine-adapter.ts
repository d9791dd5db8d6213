/**
 * The pre-flight step as the engine calls it (engine/run.ts CheckRunner): run the spec's
 * checks, emit one `check` event per result (status and evidence as data, no glyphs), and say
 * whether the deploy may go on. The emit parameter is typed structurally so this module does not
 * depend on the engine.
 */
import { gpuRuntimeChecks, type GpuService } from "./gpu-runtime.js";
import { secretExposureChecks, type ExposureService, type ExposureSpec } from "./secrets-exposure.js";
import { helmLintChecks, type ChartService } from "./helm-lint.js";
import { runChecks, summarizeChecks } from "./runner.js";
import type { CheckContext, CheckResult, CheckSpec } from "./types.js";

export type CheckEmit = (e: {
  type: "check";
  name: string;
  kind: string;
  status: CheckResult["status"];
  evidence: string;
  durationMs: number;
  summaryLines?: number;
  lineStatus?: CheckResult["lineStatus"];
}) => void;

export type CheckRunnerOptions = Omit<CheckContext, "cwd" | "signal" | "onResult">;

export function createCheckRunner(opts: CheckRunnerOptions): (
  /** `services`: those requesting GPUs get an automatic GPU-runtime item per host (opts.target). */
  /** … those deployed from a local Helm chart a `helm lint` item. */
  spec: {
    dir: string;
    checks: CheckSpec[];
    services?: Record<string, GpuService & ExposureService & ChartService>;
  } & Omit<ExposureSpec, "services">,
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
      automatic: [
        ...gpuRuntimeChecks(Object.values(spec.services ?? {}), opts.target),
        ...secretExposureChecks(spec),
        ...helmLintChecks(Object.values(spec.services ?? {}), spec.dir),
      ],
      ...(signal ? { signal } : {}),
      onResult: (r) =>
        emit({
          type: "check",
          name: r.name,
          kind: r.kind,
          status: r.status,
          evidence: r.evidence,
          durationMs: r.durationMs,
          ...(r.summaryLines !== undefined ? { summaryLines: r.summaryLines } : {}),
          ...(r.lineStatus ? { lineStatus: r.lineStatus } : {}),
        }),
    });
    return { results, ...summarizeChecks(results) };
  };
}
