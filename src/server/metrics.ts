/**
 * GET /metrics of the daemon: a few daemon gauges from the store, then the proxy's per-target
 * series relayed from its control socket, so one Prometheus job (with the API token as bearer
 * token) sees the whole data plane.
 */
import type { Store } from "../store/store.js";

export interface MetricsDeps {
  store: Pick<Store, "allInstances">;
  version: string;
  startedAt: string;
  /** The proxy's Prometheus text; undefined when no proxy runs. */
  proxy: () => Promise<string | undefined>;
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export async function daemonMetrics(deps: MetricsDeps): Promise<string> {
  const out: string[] = [];
  out.push("# HELP slipway_daemon_info The daemon's version.", "# TYPE slipway_daemon_info gauge");
  out.push(`slipway_daemon_info{version="${esc(deps.version)}"} 1`);
  out.push(
    "# HELP slipway_daemon_start_time_seconds When the daemon started (Unix time).",
    "# TYPE slipway_daemon_start_time_seconds gauge",
  );
  out.push(`slipway_daemon_start_time_seconds ${Math.round(Date.parse(deps.startedAt) / 1000)}`);

  const counts = new Map<string, number>();
  for (const i of await deps.store.allInstances()) {
    const slot = i.warmUntil ? "warm" : i.slot;
    const k = `project="${esc(i.project)}",env="${esc(i.env)}",service="${esc(i.service)}",slot="${slot}"`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  out.push(
    "# HELP slipway_instances Instances the daemon manages, by service and slot (warm = kept for rollback).",
    "# TYPE slipway_instances gauge",
  );
  for (const [k, n] of [...counts].sort()) out.push(`slipway_instances{${k}} ${n}`);

  let proxy: string | undefined;
  let proxyError = false;
  try {
    proxy = await deps.proxy();
  } catch {
    proxyError = true;
  }
  out.push(
    "# HELP slipway_proxy_up 1 when the proxy answered on its control socket for this scrape.",
    "# TYPE slipway_proxy_up gauge",
  );
  out.push(`slipway_proxy_up ${proxy !== undefined && !proxyError ? 1 : 0}`);
  return out.join("\n") + "\n" + (proxy ?? "");
}
