import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { UsageError, parseDuration } from "../../core.js";
import { renderLogLine } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("logs <env> [service]")
    .description("instance logs (all services, or one)")
    .option("-F, --follow", "keep printing new lines")
    .option("--since <duration>", "only lines newer than this, e.g. 10m")
    .option("--tail <n>", "last N lines per instance", "100")
    .option(
      "--revision <n>",
      "instances of this revision, also the stopped ones the Docker target keeps (replaced or failed)",
    )
    .action(
      cli.action(
        async (
          env: string,
          service: string | undefined,
          o: { follow?: boolean; since?: string; tail: string; revision?: string },
        ) => {
          const since = o.since === undefined ? undefined : parseDuration(o.since);
          if (o.since !== undefined && since === undefined)
            throw new UsageError(`--since: expected a duration like 10m, got "${o.since}"`);
          const out = cli.out;
          const r = await cli.op(
            "logs",
            await cli.light(env),
            {
              service,
              follow: o.follow,
              sinceMs: since,
              tail: parseIntArg("--tail", o.tail),
              revision: parseIntArg("--revision", o.revision),
            },
            { line: (l) => renderLogLine(out, l) },
          );
          if (out.json) return void process.exit(0);
          void r;
        },
        { light: true },
      ),
    );
}
