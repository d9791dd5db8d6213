import { formatThreshold, formatValue, formatDuration } from "../core.js";
import type { MeasurementRecord, AnalysisEvidence } from "../index.js";

const MARK: Record<MeasurementRecord["verdict"], string> = {
  pass: "✔",
  fail: "✖",
  error: "✖",
  inconclusive: "?",
};

/** A measurement in a few words: `error-rate 5.2 % ✖`, `queue-lag ✖ (could not measure: …)`. */
export function brief(r: MeasurementRecord): string {
  const unit = { provider: r.provider, query: r.query };
  if (r.value !== undefined && r.verdict !== "error") {
    const n = r.samples !== undefined && r.provider === "proxy" ? ` (${r.samples} req)` : "";
    return `${r.metric} ${formatValue(unit, r.value)}${n} ${MARK[r.verdict]}`;
  }
  return `${r.metric} ${MARK[r.verdict]} (${r.reason})`;
}

const MAX_VALUES = 10;

/** Human lines describing one analysis run: outcome, deciding metric, each metric's values and threshold. */
export function describeEvidence(e: AnalysisEvidence): string[] {
  const r = e.result;
  const what =
    e.phase === "canary"
      ? `canary ${e.service ?? ""} at ${e.weight ?? "?"}%`
      : e.phase === "bake"
        ? "bake"
        : "watch";
  const span = e.durationMs !== undefined ? ` ${formatDuration(e.durationMs)}` : "";
  const lines = [`analysis (${what}${span}): ${r.summary}`];
  const width = Math.max(6, ...r.metrics.map((m) => m.name.length)) + 2;
  for (const m of r.metrics) {
    const mine = r.measurements.filter((x) => x.metric === m.name);
    const shown = mine.slice(-MAX_VALUES).map((x) => valueWord(x));
    const more = mine.length > MAX_VALUES ? `… ${mine.length - MAX_VALUES} earlier, ` : "";
    const decided = r.decidedBy?.metric === m.name ? " ◀ decided" : "";
    const threshold = formatThreshold({ provider: m.provider, query: m.query, max: m.max, min: m.min });
    lines.push(
      `  ${m.name.padEnd(width)}${`${m.provider} ${m.query}`.slice(0, 28).padEnd(30)}${threshold.padEnd(12)} ${m.phase}${decided}`,
    );
    lines.push(`  ${"".padEnd(width)}${more}${shown.join("  ") || "no measurement"}`);
    if (m.phase !== "successful" && m.phase !== "running" && !decided)
      lines.push(`  ${"".padEnd(width)}${m.reason}`);
  }
  if (e.skipped?.length) lines.push(`  not measurable here: ${e.skipped.join(", ")}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (e.dropped) lines.push(`  (${e.dropped} earlier measurements not kept)`);
  return lines;
}

function valueWord(x: MeasurementRecord): string {
  if (x.verdict === "error") return "error ✖";
  if (x.value === undefined) return `no data ${MARK[x.verdict]}`;
  return `${formatValue({ provider: x.provider, query: x.query }, x.value)} ${MARK[x.verdict]}`;
}
