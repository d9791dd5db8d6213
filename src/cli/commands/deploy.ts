import type { Cli } from "../runtime.js";
import type { Plan, DeployResult } from "../../index.js";
import { renderDeploy, renderPlan } from "../render.js";
import { promptConfirmations } from "./check.js";
import { protectOptions, protectionArgs } from "../protect-prompt.js";
import { groupArgs, groupOptions } from "../group-options.js";

export function register(cli: Cli): void {
  const cmd = cli.program
    .command("deploy <env>")
    .description("run the checklist, roll out every service with health gates, roll back on failure")
    .option("--version <v>", "release label (default: git sha of the spec's directory, else a timestamp)")
    .option("--only <services...>", "only these services")
    .option(
      "--force-recreate [services...]",
      "recreate these services (all when none are named) even if unchanged since the deployed revision",
    )
    .option("-y, --yes", "confirm a deploy to a protected environment")
    .option("--allow-destroy", "let a protected environment's terraform plan destroy resources")
    .option("--dry-run", "print the plan and stop")
    .option("--skip-checks", "skip the pre-flight checks (recorded in the revision)")
    .option("-m, --message <text>", "description recorded with the revision")
    .option("--confirm <items...>", "confirm human checklist items of `confirm` checks");
  groupOptions(cmd);
  protectOptions(cmd, true).action(
    cli.action(
      async (
        env: string,
        o: {
          version?: string;
          only?: string[];
          forceRecreate?: string[] | true;
          yes?: boolean;
          dryRun?: boolean;
          skipChecks?: boolean;
          message?: string;
          confirm?: string[];
          confirmName?: string;
          overrideFreeze?: string;
          group?: string[];
          skipGroup?: string[];
          allowDestroy?: boolean;
        },
      ) => {
        const res = cli.resolve(env, o.version);
        const { confirm, prompted } =
          o.dryRun || o.skipChecks
            ? { confirm: o.confirm, prompted: [] }
            : await promptConfirmations(res, o.confirm, cli.opts.json);
        const guard = await protectionArgs(res, "deploy", o, cli.opts.json);
        const r = (await cli.op("deploy", res, {
          ...guard,
          ...groupArgs(o),
          confirm,
          prompted,
          only: o.only,
          forceRecreate: o.forceRecreate,
          allowDestroy: o.allowDestroy,
          yes: o.yes,
          dryRun: o.dryRun,
          skipChecks: o.skipChecks,
          description: o.message,
        })) as DeployResult | { dryRun: true; plan: Plan };
        if ("dryRun" in r) cli.finish(r, (out) => renderPlan(out, r.plan));
        else cli.finish(r, (out) => renderDeploy(out, r));
      },
    ),
  );
}
