/**
 * GET /metrics of the daemon: a few daemon gauges from the store, then the proxy's per-target
 * series relayed from its control socket, so one Prometheus job (with the API token as bearer
 * token) sees the whole data plane. The daemon's own series are written by prom-client; the
 * proxy's text is relayed as it comes (its writer sits on the request hot path).
 */
import { Gauge, Registry } from "prom-client";
import type { Store } from "../index.js";

export interface MetricsDeps {
  store: Pick<Store, "allInstances">;
  version: string;
  startedAt: string;
  /** The proxy's Prometheus text; undefined when no proxy runs. */
  proxy: () => Promise<string | undefined>;
}

const INSTANCE_LABELS = ["project", "env", "service", "slot"] as const;

export async function daemonMetrics(deps: MetricsDeps): Promise<string> {
  // A registry per scrape: every value is read fresh, and a series that went away is gone.
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  gauge("slipway_daemon_info", "The daemon's version.", ["version"]).set({ version: deps.version }, 1);
  gauge("slipway_daemon_start_time_seconds", "When the daemon started (Unix time).").set(
    Math.round(Date.parse(deps.startedAt) / 1000),
  );

  const instances = gauge(
    "slipway_instances",
    "Instances the daemon manages, by service and slot (warm = kept for rollback).",
    INSTANCE_LABELS,
  );
  const sorted = (await deps.store.allInstances())
    .map((i) => ({ project: i.project, env: i.env, service: i.service, slot: i.warmUntil ? "warm" : i.slot }))
    .sort(
      (a, b) =>
        INSTANCE_LABELS.map((k) => (a[k] < b[k] ? -1 : a[k] > b[k] ? 1 : 0)).find((c) => c !== 0) ?? 0,
    );
  for (const labels of sorted) instances.inc(labels);

  let proxy: string | undefined;
  let proxyError = false;
  try {
    proxy = await deps.proxy();
  } catch {
    proxyError = true;
  }
  gauge("slipway_proxy_up", "1 when the proxy answered on its control socket for this scrape.").set(
    proxy !== undefined && !proxyError ? 1 : 0,
  );
  const own = await registry.metrics();
  return (own.endsWith("\n") ? own : own + "\n") + (proxy ?? "");
}
