import { formatMs } from "../core.js";
import type { CheckEvent } from "../index.js";

export const CHECK_MARK: Record<CheckEvent["status"], string> = {
  passed: "✔",
  failed: "✖",
  warning: "!",
  skipped: "-",
};

type CheckLike = Pick<
  CheckEvent,
  "name" | "status" | "evidence" | "durationMs" | "summaryLines" | "lineStatus"
> & {
  kind?: string;
};

/** The head line and the evidence lines (indented); `evidenceLines` overrides how many are kept. */
export function checkLines(r: CheckLike, opts: { evidenceLines?: number } = {}): string[] {
  // Several measurements (resources, hosts): each line gets its own mark.
  const lines = r.evidence
    .split("\n")
    .map((l, i) => (r.lineStatus?.[i] ? `${CHECK_MARK[r.lineStatus[i]]} ${l}` : l));
  const max = Math.max(
    1,
    opts.evidenceLines ?? (r.status === "passed" ? (r.summaryLines ?? 1) : Math.max(12, r.summaryLines ?? 0)),
  );
  // The first line says what happened; the last lines of a command's output say why.
  const body =
    lines.length <= max ? lines : max === 1 ? [lines[0]] : [lines[0], "…", ...lines.slice(-(max - 1))];
  return [`${CHECK_MARK[r.status]} ${r.name}  (${formatMs(r.durationMs)})`, ...body.map((l) => `    ${l}`)];
}

export function formatCheckResult(r: CheckLike, opts: { evidenceLines?: number } = {}): string {
  return checkLines(r, opts).join("\n");
}
