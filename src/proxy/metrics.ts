/** Prometheus text exposition of the per-target stats. */
import type { TargetStats } from "./contract.js";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function prometheusText(stats: TargetStats[], routes: number): string {
  const out: string[] = [];
  const labels = (s: TargetStats) => `route="${esc(s.route)}",target="${esc(s.id)}",slot="${s.slot}"`;
  out.push("# HELP slipway_proxy_routes Routes served by the proxy.", "# TYPE slipway_proxy_routes gauge");
  out.push(`slipway_proxy_routes ${routes}`);
  out.push(
    "# HELP slipway_proxy_requests_total Requests answered through a target, by status class (error = connection failure or timeout).",
    "# TYPE slipway_proxy_requests_total counter",
  );
  for (const s of stats)
    for (const [cls, n] of Object.entries(s.statuses))
      out.push(`slipway_proxy_requests_total{${labels(s)},class="${cls}"} ${n}`);
  out.push(
    "# HELP slipway_proxy_in_flight Requests in flight to a target.",
    "# TYPE slipway_proxy_in_flight gauge",
  );
  for (const s of stats) out.push(`slipway_proxy_in_flight{${labels(s)}} ${s.inFlight}`);
  out.push(
    "# HELP slipway_proxy_request_duration_seconds Request latency through a target.",
    "# TYPE slipway_proxy_request_duration_seconds summary",
  );
  for (const s of stats) {
    const l = labels(s);
    out.push(`slipway_proxy_request_duration_seconds{${l},quantile="0.5"} ${s.latency.p50 / 1000}`);
    out.push(`slipway_proxy_request_duration_seconds{${l},quantile="0.95"} ${s.latency.p95 / 1000}`);
    out.push(`slipway_proxy_request_duration_seconds{${l},quantile="0.99"} ${s.latency.p99 / 1000}`);
    out.push(`slipway_proxy_request_duration_seconds_count{${l}} ${s.requests}`);
  }
  out.push(
    "# HELP slipway_proxy_target_ejected 1 while passive health keeps the target out of rotation.",
    "# TYPE slipway_proxy_target_ejected gauge",
  );
  for (const s of stats) out.push(`slipway_proxy_target_ejected{${labels(s)}} ${s.ejected ? 1 : 0}`);
  out.push("# HELP slipway_proxy_target_draining 1 while a removed target finishes its requests.");
  out.push("# TYPE slipway_proxy_target_draining gauge");
  for (const s of stats) out.push(`slipway_proxy_target_draining{${labels(s)}} ${s.draining ? 1 : 0}`);
  out.push("# HELP slipway_proxy_websockets Open WebSocket connections through a target.");
  out.push("# TYPE slipway_proxy_websockets gauge");
  for (const s of stats) out.push(`slipway_proxy_websockets{${labels(s)}} ${s.websockets ?? 0}`);
  return out.join("\n") + "\n";
}
