/** Human rendering of check results for the CLI and logs: one ✔/✖ line each, evidence indented. */
import { formatMs } from "../health/signal.js";
import type { CheckResult } from "./types.js";

const MARK: Record<CheckResult["status"], string> = { passed: "✔", failed: "✖", warning: "!", skipped: "-" };

export function formatCheckResult(r: CheckResult, opts: { evidenceLines?: number } = {}): string {
  const lines = r.evidence.split("\n");
  const max = Math.max(
    1,
    opts.evidenceLines ?? (r.status === "passed" ? (r.summaryLines ?? 1) : Math.max(12, r.summaryLines ?? 0)),
  );
  // The first line says what happened; the last lines of a command's output say why.
  const body =
    lines.length <= max ? lines : max === 1 ? [lines[0]] : [lines[0], "…", ...lines.slice(-(max - 1))];
  return [`${MARK[r.status]} ${r.name}  (${formatMs(r.durationMs)})`, ...body.map((l) => `    ${l}`)].join(
    "\n",
  );
}
