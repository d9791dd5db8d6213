/** Pre-flight checks: the runner, the result types and the per-kind implementations. */
export { runChecks, summarizeChecks, checkName, DEFAULT_TIMEOUTS } from "./runner.js";
export type {
  CheckContext,
  CheckResult,
  CheckStatus,
  CheckSpec,
  CheckKind,
  HostShell,
  PreflightTarget,
} from "./types.js";
export { DEFAULT_PLACEHOLDERS } from "./env.js";
export { parseNvidiaSmi, type GpuInfo } from "./gpu.js";
export { certificateFromFile } from "./tls.js";
export { createCheckRunner, type CheckRunnerOptions, type CheckEmit } from "./engine-adapter.js";
