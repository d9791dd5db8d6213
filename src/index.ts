/**
 * The public surface (DESIGN §3): the CLI, the daemon and the dashboard use Slipway through this
 * module and core.ts, its light half, only (test/boundaries.test.ts keeps it so). Heavy: it loads
 * the runtime, the engine, the drivers and the stores, so the CLI imports it on demand.
 *
 * A deploy through it: createRuntime() → runtime.slipway(target) → Slipway.deploy(resolution)
 * (docs/architecture.md walks the files).
 */
export * from "./core.js";
export * from "./spec-tools.js";
export * from "./spec-extras.js";

// The runtime and its façade.
export {
  createRuntime,
  importHelmRelease,
  renderManifests,
  type Runtime,
  type EventSubscriber,
} from "./factory.js";
export {
  Slipway,
  type DeployOptions,
  type RollbackOptions,
  type Confirmer,
  type EnvStatus,
  type ServiceStatus,
  type InstanceStatus,
  type HistoryEntry,
} from "./slipway.js";
export type { DaemonRun } from "./engine/status.js";
export { fileLogger, silentLogger, type Logger } from "./logger.js";

// The spec.
export type { Resolution } from "./spec/resolve.js";
export type { ResolvedService, ResolvedSpec } from "./spec/resolved.js";
export type { Target } from "./spec/schema.js";

// What operations return, and the events they emit.
export type { CheckEvent, EngineEvent, EventSink } from "./engine/events.js";
export type { Plan, PlanStep } from "./engine/plan.js";
export type { SavedPlan } from "./engine/infra/saved-plan.js";
export type { DeployResult } from "./engine/run.js";
export type { ScaleResult } from "./engine/scale.js";
export type { SecretListing } from "./engine/secrets.js";
export type { SecretAges } from "./checks/types.js";
export type { ExecResult, InstanceStatsRow } from "./engine/instance-commands.js";
export type { SmokeResult } from "./engine/strategies/common.js";
export type { AnalysisEvidence } from "./engine/analysis-gate.js";
export type { MeasurementRecord } from "./analysis/evaluate.js";
export type { LogLine } from "./drivers/driver.js";
export type { LockInfo, Revision, RevisionFacts, Store } from "./store/store.js";
export type { AuthStore, SessionRecord, TokenRecord, UserRecord } from "./store/users.js";
export {
  TOKEN_PREFIX,
  equalConstantTime,
  hashPassword,
  newSecret,
  newToken,
  passwordProblem,
  sha256,
  verifyPassword,
} from "./auth/secrets.js";
export { OP_ARGS, WIRE_RESOLUTION, describeIssues, opPayloadSchema } from "./operation-schemas.js";
export type { AlertTestResult, DeliveryView } from "./notify/hub.js";
export type { Silence } from "./notify/silences.js";

// What the daemon's scheduler and scheduled checks use.
export { createCheckRunner, type CheckResult, type CheckSpec, type PreflightTarget } from "./checks/index.js";
export {
  backedUpServices,
  backupAlert,
  backupConfigOf,
  backupsInUseBy,
  configFor,
  retentionOf,
  withBackups,
  type BackupRecord,
  type MigrationResult,
} from "./engine/data/index.js";
export { deployedSpec, MissingVariables, readableSpec, specOrMissing } from "./engine/deployed.js";
export { OpenAlerts } from "./engine/open-alerts.js";
export type { RuleStatus } from "./engine/rules/rule-state.js";
export type { RuleStatusOf } from "./engine/rules/rule-watch.js";
export type { RunbookReport } from "./engine/runbook/run.js";
export { identityAlive, pidAlive, selfIdentity } from "./util/pid.js";
