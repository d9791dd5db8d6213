/** Human rendering of metric values and thresholds for history, events and alerts. */
import type { AnalysisMetric } from "./provider.js";

export type Unit = "ratio" | "seconds" | "bytes" | "perSecond" | "number";

export function unitOf(metric: Pick<AnalysisMetric, "provider" | "query">): Unit {
  if (metric.provider === "proxy") {
    if (metric.query === "errorRate") return "ratio";
    if (metric.query === "requestRate") return "perSecond";
    return "seconds";
  }
  if (metric.provider === "driver") return metric.query === "memoryBytes" ? "bytes" : "ratio";
  return "number";
}

export function formatValue(metric: Pick<AnalysisMetric, "provider" | "query">, v: number): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unitOf(metric)) {
    case "ratio":
      return `${trim((v * 100).toFixed(v * 100 < 10 ? 2 : 1))} %`;
    case "seconds":
      return v < 1 ? `${trim((v * 1000).toFixed(1))} ms` : `${trim(v.toFixed(2))} s`;
    case "perSecond":
      return `${trim(v.toFixed(1))}/s`;
    case "bytes": {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let x = v;
      let i = 0;
      while (x >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${trim(x.toFixed(1))} ${units[i]}`;
    }
    default:
      return trim(
        Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : v.toPrecision(4),
      );
  }
}

export function formatThreshold(metric: Pick<AnalysisMetric, "provider" | "query" | "max" | "min">): string {
  const parts: string[] = [];
  if (metric.min !== undefined) parts.push(`≥ ${formatValue(metric, metric.min)}`);
  if (metric.max !== undefined) parts.push(`≤ ${formatValue(metric, metric.max)}`);
  return parts.join(" and ");
}

function trim(s: string): string {
  return s.includes(".") && !/e/i.test(s) ? s.replace(/\.?0+$/, "") : s;
}
