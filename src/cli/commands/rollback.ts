import type { Cli } from "../runtime.js";
import type { Plan, DeployResult } from "../../index.js";
import { renderDeploy, renderPlan } from "../render.js";
import { protectOptions, protectionArgs } from "../protect-prompt.js";

export function register(cli: Cli): void {
  const cmd = cli.program
    .command("rollback <env> [ref]")
    .description(
      "re-apply an earlier revision as a new one: REF is a revision number, else a release label (the newest revision with it); default: the one before the current",
    )
    .option(
      "--label <label>",
      "return to the newest revision with this release label (even if it looks like a number)",
    )
    .option("--with-db", "also return the data: run the down-migrations or restore the revision's backup")
    .option("-y, --yes", "confirm a rollback of a protected environment")
    .option("--dry-run", "print the plan and stop");
  protectOptions(cmd).action(
    cli.action(
      async (
        env: string,
        ref: string | undefined,
        o: { label?: string; withDb?: boolean; yes?: boolean; dryRun?: boolean; confirmName?: string },
      ) => {
        const res = cli.resolve(env, "rollback");
        const guard = await protectionArgs(res, "rollback", o, cli.opts.json);
        const r = (await cli.op("rollback", res, {
          ...guard,
          // A number is sent as `revision` too, so an older daemon still understands it.
          ...(ref !== undefined && /^\d+$/.test(ref) ? { revision: Number(ref) } : {}),
          ref,
          label: o.label,
          withDb: o.withDb,
          yes: o.yes,
          dryRun: o.dryRun,
        })) as DeployResult | { dryRun: true; plan: Plan };
        if ("dryRun" in r) cli.finish(r, (out) => renderPlan(out, r.plan));
        else cli.finish(r, (out) => renderDeploy(out, r));
      },
    ),
  );
}
