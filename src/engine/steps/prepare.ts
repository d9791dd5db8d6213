/** `prepare`: make a service's artifact available (a rollback reuses the original revision's). */
import { artifactRevision } from "../artifacts.js";
import { serviceOf, type StepRunner } from "./step.js";

export const prepareStep: StepRunner = {
  async run(step, ctx) {
    const { deps, spec, opts, revision } = ctx;
    const s = serviceOf(step, ctx);
    const artRev = opts.rollbackOf ? (artifactRevision(opts.rollbackOf, s.name) ?? revision) : revision;
    const recorded = opts.rollbackOf?.facts.artifactRecords as
      Record<string, Record<string, unknown>> | undefined;
    const a = await deps.driver.prepare(spec.project, spec.env, s, artRev, {
      existingOnly: opts.rollbackOf !== undefined,
      ...(recorded?.[s.name] ? { recorded: recorded[s.name] } : {}),
    });
    ctx.artifacts.set(s.name, a);
    if (a.record)
      ctx.facts.artifactRecords = {
        ...(ctx.facts.artifactRecords as Record<string, unknown> | undefined),
        [s.name]: a.record,
      };
    ctx.artifactRevs[s.name] = artRev;
    return typeof a.record?.note === "string" ? `${a.ref} (${a.record.note})` : a.ref;
  },
};
