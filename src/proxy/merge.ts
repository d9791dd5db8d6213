/**
 * Several worker processes' stats of the same targets as one: counters and gauges summed,
 * latency histograms merged bucket-wise (the percentiles are read from the merged buckets, so
 * they are the percentiles of all requests, not an average of per-worker percentiles).
 */
import type { TargetStats } from "./contract.js";
import { mergeBuckets, quantileOfBuckets } from "./histogram.js";
import type { MetricTarget } from "./metrics.js";

function addInto(into: MetricTarget, s: MetricTarget): void {
  into.requests += s.requests;
  for (const [cls, n] of Object.entries(s.statuses)) into.statuses[cls] = (into.statuses[cls] ?? 0) + n;
  into.inFlight += s.inFlight;
  into.websockets = (into.websockets ?? 0) + (s.websockets ?? 0);
  into.latencySumMs = (into.latencySumMs ?? 0) + (s.latencySumMs ?? 0);
  // Passive health and draining are per process: one that ejects or drains it says so.
  into.ejected ||= s.ejected;
  into.draining = (into.draining ?? false) || (s.draining ?? false);
  // The slot of the process that saw the latest route wins (they agree once setRoute returned).
  into.slot = s.slot;
}

/** One entry per (route, target id), in the order first seen. */
export function mergeStats(perWorker: MetricTarget[][]): MetricTarget[] {
  const byKey = new Map<string, { s: MetricTarget; buckets: [number, number][][] }>();
  for (const list of perWorker)
    for (const s of list) {
      const k = `${s.route}\u0000${s.id}`;
      const cur = byKey.get(k);
      if (!cur) {
        const copy: MetricTarget = { ...s, statuses: { ...s.statuses }, latencySumMs: s.latencySumMs ?? 0 };
        byKey.set(k, { s: copy, buckets: [s.latencyBuckets ?? []] });
      } else {
        addInto(cur.s, s);
        cur.buckets.push(s.latencyBuckets ?? []);
      }
    }
  return [...byKey.values()].map(({ s, buckets }) => {
    const merged = mergeBuckets(buckets);
    return {
      ...s,
      latencyBuckets: merged,
      latency: {
        p50: quantileOfBuckets(merged, 0.5),
        p95: quantileOfBuckets(merged, 0.95),
        p99: quantileOfBuckets(merged, 0.99),
      },
    };
  });
}

/** The stats the control API answers: without the metrics-only latency sum. */
export function publicStats(list: MetricTarget[]): TargetStats[] {
  return list.map(({ latencySumMs: _sum, ...s }) => s);
}
