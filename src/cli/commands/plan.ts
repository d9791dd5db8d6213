import type { Cli } from "../runtime.js";
import type { Plan } from "../../index.js";
import { renderPlan } from "../render.js";
import { groupArgs, groupOptions } from "../group-options.js";

export function register(cli: Cli): void {
  const cmd = cli.program
    .command("plan <env>")
    .description("show what a deploy would do, step by step, without doing it")
    .option("--version <v>", "release label (default: git sha of the spec's directory, else a timestamp)")
    .option("--only <services...>", "only these services")
    .option(
      "--force-recreate [services...]",
      "recreate these services (all when none are named) even if unchanged since the deployed revision",
    )
    .option("--skip-checks", "leave out the pre-flight checks");
  groupOptions(cmd).action(
    cli.action(
      async (
        env: string,
        o: {
          version?: string;
          only?: string[];
          skipChecks?: boolean;
          forceRecreate?: string[] | true;
          group?: string[];
          skipGroup?: string[];
        },
      ) => {
        const res = cli.resolve(env, o.version);
        const p = (await cli.op("plan", res, {
          ...groupArgs(o),
          only: o.only,
          skipChecks: o.skipChecks,
          forceRecreate: o.forceRecreate,
        })) as Plan;
        cli.finish(p, (out) => renderPlan(out, p));
      },
    ),
  );
}
