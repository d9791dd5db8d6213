/** `slipway run ENV NAME`: a runbook of the spec, now (exit 1 when a step failed). */
import { parseIntArg, type Cli } from "../runtime.js";
import type { RunbookReport } from "../../index.js";
import { formatMs } from "../../core.js";
import { dim, green, red, yellow, type Out } from "../render.js";

export function renderRunbook(out: Out, r: RunbookReport): void {
  for (const s of r.steps) {
    const mark =
      s.status === "passed" ? green(out, "✔") : s.status === "failed" ? red(out, "✖") : yellow(out, "–");
    out.stdout(`${mark} ${s.name} ${dim(out, formatMs(s.durationMs))}`);
    if (s.evidence) out.stdout(dim(out, `    ${s.evidence.split("\n").join("\n    ")}`));
  }
  const passed = r.steps.filter((s) => s.status === "passed").length;
  const line = `runbook ${r.runbook} ${r.status}: ${passed}/${r.steps.length} steps passed in ${formatMs(r.durationMs)}`;
  out.stdout(r.status === "passed" ? green(out, line) : red(out, line));
}

/** One line per earlier run, newest first. */
function renderRuns(out: Out, env: string, runs: RunbookReport[]): void {
  if (!runs.length) return out.stdout(`no runbook runs in ${env} yet (slipway run ${env} NAME)`);
  for (const r of runs) {
    const passed = r.steps.filter((s) => s.status === "passed").length;
    const mark = r.status === "passed" ? green(out, "✔") : red(out, "✖");
    out.stdout(
      `${mark} ${r.finishedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}  ${r.runbook}  ${r.status}  ` +
        `${passed}/${r.steps.length} steps  ${dim(out, r.trigger)}`,
    );
    for (const s of r.steps.filter((x) => x.status === "failed"))
      out.stdout(dim(out, `    ✖ ${s.name}: ${s.evidence.split("\n")[0]}`));
  }
}

export function register(cli: Cli): void {
  cli.program
    .command("runs <env> [runbook]")
    .description("earlier runbook runs and their outcome, newest first (their reports, from history)")
    .option("-n, --limit <n>", "how many runs", "20")
    .action(
      cli.action(
        async (env: string, name: string | undefined, o: { limit: string }) => {
          const r = (await cli.op("runbook-runs", await cli.light(env), {
            name,
            limit: parseIntArg("--limit", o.limit),
          })) as { runs: RunbookReport[] };
          cli.finish(r, (out) => renderRuns(out, env, r.runs));
        },
        { light: true },
      ),
    );
  cli.program
    .command("run <env> <runbook>")
    .description(
      "run a runbook (runbooks: in slipway.yaml) now; the report is kept in history (exit 1 when a step failed)",
    )
    .action(
      cli.action(async (env: string, name: string) => {
        try {
          const r = (await cli.op("runbook", cli.resolve(env, "runbook"), { name })) as RunbookReport;
          cli.finish(r, (out) => renderRunbook(out, r));
        } catch (e) {
          const report = (e as { details?: { report?: RunbookReport } }).details?.report;
          if (!report) throw e;
          cli.finish(report, (out) => renderRunbook(out, report), 1);
        }
      }),
    );
}
