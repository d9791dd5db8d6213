/** `migrate`: a service's `migrate.up` as a one-off run in the new release, before its rollout. */
import { OperationFailed } from "../../errors.js";
import { serviceOf, type StepRunner } from "./step.js";

export const migrateStep: StepRunner = {
  async run(step, ctx) {
    const { deps, spec, revision, facts, signal } = ctx;
    const s = serviceOf(step, ctx);
    const req = ctx.request(s, step);
    const r = await deps.driver.runOnce(
      {
        project: spec.project,
        env: spec.env,
        service: s,
        revision,
        version: spec.version,
        slot: "candidate",
        index: 0,
        env_vars: { ...s.env, SLIPWAY_VERSION: spec.version, SLIPWAY_ENV: spec.env },
        artifact: req.artifact,
      },
      s.migrate?.up as string,
      { timeoutMs: 600_000, signal },
    );
    if (r.exitCode !== 0)
      throw new OperationFailed(
        `${s.name}: migration failed (exit ${r.exitCode})\n${r.output.split("\n").slice(-15).join("\n")}`,
      );
    facts.migrations = { ...((facts.migrations as object) ?? {}), [s.name]: true };
    return "migrations applied";
  },
};
