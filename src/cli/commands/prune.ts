import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { green } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("prune <env>")
    .description(
      "remove old release directories / image tags beyond each service's `retain` (live ones are kept)",
    )
    .option("--keep <n>", "keep this many earlier releases instead of `retain`")
    .action(
      cli.action(async (env: string, o: { keep?: string }) => {
        const r = (await cli.op("prune", cli.resolve(env, "prune"), {
          keep: parseIntArg("--keep", o.keep),
        })) as {
          revision?: number;
        };
        cli.finish(r, (out) =>
          out.stdout(
            r.revision
              ? green(out, `✔ pruned releases of ${env} older than what revision ${r.revision} keeps`)
              : "nothing deployed",
          ),
        );
      }),
    );
}
