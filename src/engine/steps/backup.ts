/** `backup`: a service's `backup.before: deploy`, or (no service) the record of the release replaced. */
import { backupBeforeDeploy, backupCurrentRelease } from "../data/index.js";
import { serviceOf, type StepRunner } from "./step.js";

export const backupStep: StepRunner = {
  async run(step, ctx) {
    const { deps, spec, opts, live, facts, revision, emit } = ctx;
    if (!step.service) {
      // The release being replaced (plan adds this step only when one is deployed).
      if (!opts.current) return "no release deployed";
      const r = await backupCurrentRelease(deps, spec, opts.current, live);
      facts.releaseBackup = r.id;
      return r.message;
    }
    const b = await backupBeforeDeploy(deps, spec, serviceOf(step, ctx), revision, emit);
    facts.backups = {
      ...(facts.backups as Record<string, string> | undefined),
      [step.service]: b.id,
    };
    return b.message;
  },
};
