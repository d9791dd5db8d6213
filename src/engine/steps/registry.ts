/**
 * Every step kind and its runner: adding a kind is adding its file here and its name to
 * `StepKind` in plan.ts (the table's type makes a missing runner a compile error).
 */
import type { StepKind } from "../plan.js";
import { backupStep } from "./backup.js";
import { bakeStep } from "./bake.js";
import { carryStep } from "./carry.js";
import { checksStep } from "./checks.js";
import { migrateDownStep, restoreStep } from "./data-steps.js";
import { finalizeStep } from "./finalize.js";
import { migrateStep } from "./migrate.js";
import { prepareStep } from "./prepare.js";
import { removeStep } from "./remove.js";
import { rolloutStep } from "./rollout.js";
import type { StepRunner } from "./step.js";
import { terraformStep } from "./terraform.js";

export const STEP_RUNNERS: Readonly<Record<StepKind, StepRunner>> = {
  checks: checksStep,
  backup: backupStep,
  prepare: prepareStep,
  migrate: migrateStep,
  rollout: rolloutStep,
  bake: bakeStep,
  remove: removeStep,
  finalize: finalizeStep,
  carry: carryStep,
  "migrate-down": migrateDownStep,
  restore: restoreStep,
  terraform: terraformStep,
};
