/** `slipway migrate ENV up|down|status [SVC] [--to N] [--revision N]`: a one-off of the deployed release. */
import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import type { MigrationResult } from "../../index.js";
import { UsageError } from "../../core.js";
import { bold, dim } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("migrate <env> <action> [service]")
    .description(
      "run a service's migrate.up, migrate.down or migrate.status as a one-off of the deployed release",
    )
    .option("--to <n>", "target migration, given to the command as MIGRATE_TO")
    .option("--revision <n>", "use the release of this revision (default: the deployed one)")
    .option("-y, --yes", "confirm up/down on a protected environment")
    .action(
      cli.action(
        async (
          env: string,
          action: string,
          service: string | undefined,
          o: { to?: string; revision?: string; yes?: boolean },
        ) => {
          if (!["up", "down", "status"].includes(action))
            throw new UsageError(`migrate: the action is up, down or status, not "${action}"`);
          const r = (await cli.op("migrate", cli.resolve(env, "migrate"), {
            action,
            service,
            to: o.to,
            revision: parseIntArg("--revision", o.revision),
            yes: o.yes,
          })) as { revision: number; results: MigrationResult[] };
          cli.finish(r, (out) => {
            for (const x of r.results) {
              out.stdout(
                `${bold(out, x.service)}: migrate ${x.action} ${dim(out, `(revision ${x.revision}, ${x.version}: ${x.command})`)}`,
              );
              if (x.output.trim()) out.stdout(x.output.trimEnd());
            }
          });
        },
      ),
    );
}
