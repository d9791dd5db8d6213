/**
 * Analysis measurements drawn against their thresholds: one small inline SVG per metric (no
 * chart library: a polyline, a dashed line per threshold, a dot per measurement coloured by its
 * verdict). The same numbers are in the chart's accessible name and in a table for screen readers.
 */

/** One measurement as the engine records it (analysis MeasurementRecord). */
export interface Measurement {
  metric: string;
  query: string;
  value?: number;
  max?: number;
  min?: number;
  verdict: string;
  reason: string;
  at: string;
}

/** One analysis run as stored in a revision's `facts.analysis`. */
export interface AnalysisEvidence {
  phase: string;
  service?: string;
  weight?: number;
  result: { outcome: string; summary: string; measurements: Measurement[] };
}

const RATIO = /^(errorRate|cpu|memory)$/;
/** A value in the metric's base unit, as people read it: ratios in %, latencies in s/ms, bytes in MiB. */
export function formatValue(query: string, v: number | undefined): string {
  if (v === undefined) return "no data";
  if (RATIO.test(query)) return `${+(v * 100).toFixed(2)} %`;
  if (/^latency/.test(query)) return v < 1 ? `${+(v * 1000).toFixed(1)} ms` : `${+v.toFixed(2)} s`;
  if (query === "memoryBytes") return `${+(v / 1048576).toFixed(1)} MiB`;
  return String(+v.toFixed(3));
}

const W = 280;
const H = 80;
const PAD = 6;

export function MetricChart({ name, points }: { name: string; points: Measurement[] }) {
  const last = points[points.length - 1];
  const { query, max, min } = last;
  const values = points.map((p) => p.value).filter((v): v is number => v !== undefined);
  const all = [...values, ...(max !== undefined ? [max] : []), ...(min !== undefined ? [min] : [])];
  const hi = Math.max(...all, 0);
  const lo = Math.min(...all, 0);
  const span = hi - lo || 1;
  const x = (i: number) =>
    PAD + (points.length < 2 ? (W - 2 * PAD) / 2 : (i * (W - 2 * PAD)) / (points.length - 1));
  const y = (v: number) => H - PAD - ((v - lo) / span) * (H - 2 * PAD);
  const line = points
    .map((p, i) => (p.value === undefined ? "" : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`))
    .filter(Boolean)
    .join(" ");
  const failed = points.filter((p) => p.verdict === "fail").length;
  const limits = [
    max !== undefined ? `max ${formatValue(query, max)}` : "",
    min !== undefined ? `min ${formatValue(query, min)}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  const label = `${name}: ${points.length} measurements, last ${formatValue(query, last.value)} (${limits}), ${failed} failed`;
  return (
    <figure class="chart">
      <figcaption>
        <strong>{name}</strong>{" "}
        <span class="muted">
          last {formatValue(query, last.value)} · {limits}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        {max !== undefined && <line class="limit" x1={0} x2={W} y1={y(max)} y2={y(max)} />}
        {min !== undefined && <line class="limit" x1={0} x2={W} y1={y(min)} y2={y(min)} />}
        {line && <polyline class="series" points={line} />}
        {points.map((p, i) =>
          p.value === undefined ? null : (
            <circle key={i} class={`pt ${p.verdict}`} cx={x(i)} cy={y(p.value)} r={2.5}>
              <title>{`${new Date(p.at).toLocaleTimeString()}: ${p.reason}`}</title>
            </circle>
          ),
        )}
      </svg>
    </figure>
  );
}

/** Measurements grouped by metric, a chart for each. */
export function MeasurementCharts({ measurements }: { measurements: Measurement[] }) {
  const by = new Map<string, Measurement[]>();
  for (const m of measurements) by.set(m.metric, [...(by.get(m.metric) ?? []), m]);
  if (!by.size) return null;
  return (
    <div class="charts">
      {[...by].map(([name, points]) => (
        <MetricChart key={name} name={name} points={points} />
      ))}
    </div>
  );
}

/** A revision's analysis evidence: one block per run (canary step, bake, watch). */
export function AnalysisRuns({ runs }: { runs: AnalysisEvidence[] }) {
  return (
    <div class="analysis" aria-label="Analysis">
      {runs.map((r, i) => (
        <div key={i}>
          <h5>
            analysis ({r.phase}
            {r.service ? ` ${r.service}` : ""}
            {r.weight !== undefined ? ` ${r.weight} %` : ""}): {r.result.summary}
          </h5>
          <MeasurementCharts measurements={r.result.measurements} />
        </div>
      ))}
    </div>
  );
}
