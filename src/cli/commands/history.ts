import type { Cli } from "../runtime.js";
import { evidenceOf } from "../../core.js";
import { parseIntArg } from "../runtime.js";
import type { HistoryEntry } from "../../index.js";
import { renderHistory } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("history <env> [revision]")
    .description("revisions of an environment; with a revision, its steps and evidence")
    .option("-n, --limit <n>", "how many revisions", "20")
    .action(
      cli.action(
        async (env: string, revision: string | undefined, o: { limit: string }) => {
          const h = (await cli.op("history", await cli.light(env), {
            revision: parseIntArg("revision", revision),
            limit: parseIntArg("--limit", o.limit),
          })) as HistoryEntry[];
          // The analysis formatters are only loaded when there is analysis evidence to show.
          const evidence =
            h.length === 1 && h[0].steps && h[0].revision.facts?.analysis
              ? {
                  describeEvidence: (await import("../render-analysis.js")).describeEvidence,
                  evidenceOf,
                }
              : undefined;
          cli.finish(h, (out) => renderHistory(out, h, evidence));
        },
        { light: true },
      ),
    );
}
