/** `slipway smoke ENV [SVC]`: the deployed release's smoke requests, on demand (exit 1 on a failure). */
import type { Cli } from "../runtime.js";
import type { SmokeResult } from "../../index.js";
import { dim, green, red } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("smoke <env> [service]")
    .description("run the deployed services' smoke requests through their public ports (exit 1 on a failure)")
    .action(
      cli.action(
        async (env: string, service: string | undefined) => {
          const r = (await cli.op("smoke", await cli.light(env), { service })) as {
            revision: number;
            results: SmokeResult[];
            skipped: string[];
          };
          const failed = r.results.filter((x) => !x.ok).length;
          cli.finish(
            r,
            (out) => {
              for (const x of r.results)
                out.stdout(
                  `${x.ok ? green(out, "✔") : red(out, "✖")} ${x.message} ${dim(out, `${x.durationMs}ms`)}`,
                );
              if (r.skipped.length) out.stdout(dim(out, `  no smoke requests: ${r.skipped.join(", ")}`));
              out.stdout(
                failed
                  ? `${failed} of ${r.results.length} smoke request(s) failed (revision ${r.revision})`
                  : `all ${r.results.length} smoke request(s) passed (revision ${r.revision})`,
              );
            },
            failed ? 1 : 0,
          );
        },
        { light: true },
      ),
    );
}
