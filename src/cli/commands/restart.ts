import type { Cli } from "../runtime.js";
import type { Plan, DeployResult } from "../../index.js";
import { renderDeploy, renderPlan } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("restart <env> [service]")
    .description(
      "rolling restart without downtime: fresh instances of the current revision, health-gated, then traffic switched and the old ones drained",
    )
    .option("--dry-run", "print the plan and stop")
    .action(
      cli.action(async (env: string, service: string | undefined, o: { dryRun?: boolean }) => {
        const r = (await cli.op("restart", cli.resolve(env, "restart"), { service, dryRun: o.dryRun })) as
          DeployResult | { dryRun: true; plan: Plan };
        if ("dryRun" in r) cli.finish(r, (out) => renderPlan(out, r.plan));
        else cli.finish(r, (out) => renderDeploy(out, r));
      }),
    );
}
