import { readFileSync } from "node:fs";
import type { Cli } from "../runtime.js";
import { Refused, UsageError } from "../../core.js";
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
    .option(
      "--plan <file>",
      "apply exactly the plan saved by `plan ENV --out FILE` (refused, exit 4, when anything moved since)",
    )
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
          plan?: string;
        },
      ) => {
        const savedPlan = o.plan === undefined ? undefined : readSavedPlan(o);
        const version = o.version ?? (savedPlan?.version as string | undefined);
        const res = cli.resolve(env, version);
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
          savedPlan,
          description: o.message,
        })) as DeployResult | { dryRun: true; plan: Plan };
        if ("dryRun" in r) cli.finish(r, (out) => renderPlan(out, r.plan));
        else cli.finish(r, (out) => renderDeploy(out, r));
      },
    ),
  );
}

/** The saved plan's document as the file holds it (the daemon checks its digest and content). */
function readSavedPlan(o: {
  plan?: string;
  only?: string[];
  group?: string[];
  skipGroup?: string[];
  forceRecreate?: unknown;
  skipChecks?: boolean;
}): Record<string, unknown> {
  const fixed = [
    o.only && "--only",
    o.group && "--group",
    o.skipGroup && "--skip-group",
    o.forceRecreate && "--force-recreate",
    o.skipChecks && "--skip-checks",
  ].filter(Boolean);
  if (fixed.length)
    throw new UsageError(
      `--plan: ${fixed.join(", ")} were chosen when the plan was made; leave them out here`,
    );
  let text: string;
  try {
    text = readFileSync(o.plan!, "utf8");
  } catch (e) {
    throw new UsageError(`--plan ${o.plan}: ${(e as Error).message}`);
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc && typeof doc === "object" && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Refused(
    `the plan file ${o.plan} is damaged (not a saved plan's JSON): make a new one with \`slipway plan ENV --out FILE\``,
  );
}
