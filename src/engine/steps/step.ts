/**
 * The step contract (commands as data, DESIGN §7): a plan is a list of steps; each kind is one
 * small runner in this folder, registered in `registry.ts`. The executor (`executor.ts`) is the
 * only place that journals, times, redacts and emits a step; a runner just does its work and
 * returns the line the journal shows (or throws).
 */
import type { Artifact, Instance } from "../../drivers/driver.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../../spec/resolved.js";
import type { Revision } from "../../store/store.js";
import type { DeployAnalysis } from "../analysis-gate.js";
import type { DataRollbackContext } from "../data/data-rollback.js";
import type { EngineDeps } from "../context.js";
import type { EventSink } from "../events.js";
import type { Plan, PlanStep } from "../plan.js";
import type { StepGate } from "../strategies/canary.js";
import type { RolloutRequest, RolloutState } from "../strategies/common.js";

export interface CheckRunner {
  (
    spec: ResolvedSpec,
    emit: EventSink,
    signal?: AbortSignal,
  ): Promise<{ ok: boolean; summary: string; results: unknown[] }>;
}

export interface RunOptions {
  resolution: Resolution;
  plan: Plan;
  description: string;
  skipChecks: boolean;
  /** Rollback: the revision re-applied; its artifacts are reused. */
  rollbackOf?: Revision;
  /** The revision deployed before this one (undo restores it). */
  current?: Revision;
  emit: EventSink;
  signal?: AbortSignal;
  checks?: CheckRunner;
  canaryGate?: StepGate;
  /** A rollback --with-db: what its data steps (migrate-down, restore) need. */
  dataRollback?: DataRollbackContext;
  /** Fingerprints of the services (engine/carry.ts), recorded so the next deploy can keep unchanged ones. */
  fingerprints?: Record<string, string>;
  /** `slipway restart`: rollbackOf is the current revision, re-applied to fresh instances. */
  restart?: boolean;
  /** Recorded with the revision from the start (who confirmed a protected operation, a freeze override). */
  facts?: Record<string, unknown>;
}

/** What the steps of one run share: the revision being made and what earlier steps produced. */
export interface StepContext {
  deps: EngineDeps;
  spec: ResolvedSpec;
  /** The revision this run creates. */
  revision: number;
  opts: RunOptions;
  emit: EventSink;
  signal?: AbortSignal;
  /** Recorded with the revision when the run ends (checks, backups, migrations, analysis …). */
  facts: Record<string, unknown>;
  /** Prepared artifacts by service, and the revision each one belongs to. */
  artifacts: Map<string, Artifact>;
  artifactRevs: Record<string, number>;
  /** Rollouts done so far (what finalize promotes and a failure undoes). */
  states: RolloutState[];
  /** The environment's instances when the run began. */
  live: Instance[];
  /** Canary gates and the bake, when the spec has analysis. */
  analysis?: DeployAnalysis;
  /** A strategy's request for one service, recording progress on the step's journal entry. */
  request(svc: ResolvedService, step: PlanStep): RolloutRequest;
}

/** One step kind: does the work, returns the journal's message. */
export interface StepRunner {
  run(step: PlanStep, ctx: StepContext): Promise<string | undefined>;
}

/** The service a service-scoped step works on (plan() always sets it for those kinds). */
export function serviceOf(step: PlanStep, ctx: StepContext): ResolvedService {
  return ctx.spec.services[step.service as string];
}
