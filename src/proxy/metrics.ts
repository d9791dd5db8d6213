/** Prometheus text exposition of the per-target stats. */
import type { TargetStats } from "./contract.js";
import { bucketMidMs } from "./histogram.js";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** Histogram bounds (seconds): the client libraries' defaults, widened at both ends for a proxy. */
export const LE_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

/** A target's stats plus the exact latency sum (ms) the histogram keeps. */
export type MetricTarget = TargetStats & { latencySumMs?: number };

/**
 * Cumulative counts at each `le` bound from the proxy's fine log buckets (~4 % wide): a fine
 * bucket counts below a bound when its geometric middle does, the same rule the percentiles use.
 */
export function leCounts(buckets: [number, number][], total: number): number[] {
  const out: number[] = [];
  let i = 0;
  let seen = 0;
  for (const le of LE_SECONDS) {
    const ms = le * 1000;
    while (i < buckets.length && bucketMidMs((buckets[i] as [number, number])[0]) <= ms)
      seen += (buckets[i++] as [number, number])[1];
    out.push(seen);
  }
  out.push(total);
  return out;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1e9) / 1e9));

export function prometheusText(stats: MetricTarget[], routes: number): string {
  const out: string[] = [];
  const labels = (s: TargetStats) => `route="${esc(s.route)}",target="${esc(s.id)}",slot="${s.slot}"`;
  const head = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  head("slipway_proxy_routes", "gauge", "Routes served by the proxy.");
  out.push(`slipway_proxy_routes ${routes}`);

  head(
    "slipway_proxy_requests_total",
    "counter",
    "Requests answered through a target, by status class (error = connection failure or timeout).",
  );
  for (const s of stats)
    for (const [cls, n] of Object.entries(s.statuses))
      out.push(`slipway_proxy_requests_total{${labels(s)},class="${cls}"} ${n}`);

  head("slipway_proxy_in_flight", "gauge", "Requests in flight to a target.");
  for (const s of stats) out.push(`slipway_proxy_in_flight{${labels(s)}} ${s.inFlight}`);

  head(
    "slipway_proxy_request_duration_seconds",
    "histogram",
    "Request latency through a target, until the response is fully sent.",
  );
  for (const s of stats) {
    const l = labels(s);
    const total = s.latencyBuckets ? s.latencyBuckets.reduce((a, [, n]) => a + n, 0) : s.requests;
    const counts = leCounts(s.latencyBuckets ?? [], total);
    LE_SECONDS.forEach((le, i) =>
      out.push(`slipway_proxy_request_duration_seconds_bucket{${l},le="${le}"} ${counts[i]}`),
    );
    out.push(`slipway_proxy_request_duration_seconds_bucket{${l},le="+Inf"} ${total}`);
    out.push(`slipway_proxy_request_duration_seconds_sum{${l}} ${num((s.latencySumMs ?? 0) / 1000)}`);
    out.push(`slipway_proxy_request_duration_seconds_count{${l}} ${total}`);
  }

  head("slipway_proxy_target_ejected", "gauge", "1 while passive health keeps the target out of rotation.");
  for (const s of stats) out.push(`slipway_proxy_target_ejected{${labels(s)}} ${s.ejected ? 1 : 0}`);
  head("slipway_proxy_target_draining", "gauge", "1 while a removed target finishes its requests.");
  for (const s of stats) out.push(`slipway_proxy_target_draining{${labels(s)}} ${s.draining ? 1 : 0}`);
  head("slipway_proxy_websockets", "gauge", "Open WebSocket connections through a target.");
  for (const s of stats) out.push(`slipway_proxy_websockets{${labels(s)}} ${s.websockets ?? 0}`);
  return out.join("\n") + "\n";
}
