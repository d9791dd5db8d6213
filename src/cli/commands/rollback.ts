import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import type { Plan, DeployResult } from "../../index.js";
import { renderDeploy, renderPlan } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("rollback <env> [revision]")
    .description("re-apply an earlier revision (default: the one before the current) as a new revision")
    .option("--with-db", "also return the data: run the down-migrations or restore the revision's backup")
    .option("-y, --yes", "confirm a rollback of a protected environment")
    .option("--dry-run", "print the plan and stop")
    .action(
      cli.action(
        async (
          env: string,
          revision: string | undefined,
          o: { withDb?: boolean; yes?: boolean; dryRun?: boolean },
        ) => {
          const n = parseIntArg("revision", revision);
          const res = cli.resolve(env, "rollback");
          const r = (await cli.op("rollback", res, {
            revision: n,
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
