/**
 * GET /metrics of the daemon: a few daemon gauges from the store, then the proxy's per-target
 * series relayed from its control socket, so one Prometheus job (with the API token as bearer
 * token) sees the whole data plane. The daemon's own series are written by prom-client; the
 * proxy's text is relayed as it comes (its writer sits on the request hot path).
 */
import { Gauge, Registry } from "prom-client";
import type { RuleStatusOf, Store } from "../index.js";

export interface MetricsDeps {
  store: Pick<Store, "allInstances">;
  version: string;
  startedAt: string;
  /** The proxy's Prometheus text; undefined when no proxy runs. */
  proxy: () => Promise<string | undefined>;
  /** The standing rules the daemon evaluates. */
  rules?: () => RuleStatusOf[];
}

const RULE_STATE = { inactive: 0, pending: 1, firing: 2 } as const;

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

  ruleGauges(gauge, deps.rules?.() ?? []);

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

type GaugeOf = <L extends string>(name: string, help: string, labelNames: readonly L[]) => Gauge<L>;

/** slipway_rule_state (0 inactive, 1 pending, 2 firing), the last value, and when it was evaluated. */
function ruleGauges(gauge: GaugeOf, rules: RuleStatusOf[]): void {
  if (!rules.length) return;
  const labels = ["project", "env", "rule", "service", "severity"] as const;
  const state = gauge("slipway_rule_state", "Standing rule state: 0 inactive, 1 pending, 2 firing.", labels);
  const value = gauge("slipway_rule_value", "The last value a standing rule measured (base units).", labels);
  const health = gauge(
    "slipway_rule_health",
    "1 when the rule's last evaluation measured, 0 when it could not.",
    labels,
  );
  const last = gauge(
    "slipway_rule_last_evaluation_timestamp_seconds",
    "When the rule was last evaluated (Unix time).",
    labels,
  );
  for (const r of rules) {
    const l = {
      project: r.project,
      env: r.env,
      rule: r.name,
      service: r.service ?? "",
      severity: r.severity,
    };
    state.set(l, RULE_STATE[r.state]);
    if (r.value !== undefined) value.set(l, r.value);
    health.set(l, r.health === "error" ? 0 : 1);
    if (r.lastEvaluation) last.set(l, Date.parse(r.lastEvaluation) / 1000);
  }
}
