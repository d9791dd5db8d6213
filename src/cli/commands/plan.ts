import { chmodSync, writeFileSync } from "node:fs";
import type { Cli } from "../runtime.js";
import type { Plan, SavedPlan } from "../../index.js";
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
    .option("--skip-checks", "leave out the pre-flight checks")
    .option(
      "--out <file>",
      "save the plan (with its Terraform plan files; mode 0600) for `deploy ENV --plan FILE` to apply exactly",
    );
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
          out?: string;
        },
      ) => {
        const res = cli.resolve(env, o.version);
        const r = (await cli.op("plan", res, {
          ...groupArgs(o),
          only: o.only,
          skipChecks: o.skipChecks,
          forceRecreate: o.forceRecreate,
          ...(o.out ? { save: true } : {}),
        })) as Plan | SavedPlan;
        if (!("digest" in r)) cli.finish(r, (out) => renderPlan(out, r));
        const file = o.out!;
        // The Terraform plan files may hold input values: the file is readable by its owner only.
        writeFileSync(file, JSON.stringify(r, null, 1) + "\n", { mode: 0o600 });
        chmodSync(file, 0o600);
        const saved = { file, digest: r.digest, createdAt: r.createdAt };
        cli.finish({ ...r.plan, saved }, (out) => {
          renderPlan(out, r.plan);
          out.stdout(
            `plan saved to ${file} (digest ${r.digest.slice(0, 12)}); apply exactly this plan with:`,
          );
          out.stdout(`  slipway deploy ${env} --plan ${file}`);
        });
      },
    ),
  );
}
