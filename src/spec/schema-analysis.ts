/**
 * The `analysis:` block of slipway.yaml (issue 5): which metrics gate a canary step, the bake
 * after promotion and the watch after a deploy. The schema is the documentation: every field
 * is described; cross-field rules are reported on the field that is wrong.
 *
 * Threshold values are in base units, like Prometheus: ratios for rates (`1%` = 0.01),
 * seconds for latencies (`2s` = 2), bytes for sizes (`512Mi`), plain numbers otherwise.
 */
import { z } from "zod";
import { parseDuration, parsePercent, parseSize } from "../util/units.js";
import { duration, name } from "./fields.js";

export const metricProviders = ["proxy", "driver", "prometheus", "scrape", "json"] as const;
export type MetricProviderKind = (typeof metricProviders)[number];

/** Queries the built-in providers understand. */
export const proxyQueries = ["errorRate", "latencyP50", "latencyP95", "latencyP99", "requestRate"] as const;
export const driverQueries = ["cpu", "memory", "memoryBytes", "restarts"] as const;

/** "1%" → 0.01, "2s" → 2 (seconds), "512Mi" → bytes, "30" or 30 → 30. */
export function parseThreshold(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  const t = v.trim();
  if (t === "") return undefined;
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(t)) return Number(t);
  if (t.endsWith("%")) return parsePercent(t);
  const ms = parseDuration(t);
  if (ms !== undefined) return ms / 1000;
  if (/[a-z]$/i.test(t)) return parseSize(t);
  return undefined;
}

const threshold = (description: string) =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const n = parseThreshold(v);
      if (n === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `expected a number, a percentage (1%), a duration (2s) or a size (512Mi), got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    })
    .describe(description);

export const metricSchema = z
  .strictObject({
    name: name.describe("Name of the metric, unique in the list; shown in history and alerts."),
    provider: z
      .enum(metricProviders)
      .describe(
        "Where the value comes from: proxy (the Slipway proxy's per-target stats of the new release), " +
          "driver (CPU/memory of the new release's instances), prometheus (an instant query on a " +
          "Prometheus HTTP API), scrape (a Prometheus text-format /metrics endpoint), json (a number " +
          "in a JSON document).",
      ),
    query: z
      .string()
      .min(1)
      .describe(
        "proxy: errorRate | latencyP50 | latencyP95 | latencyP99 | requestRate; driver: cpu | memory | restarts (container restarts of an instance since it started; Kubernetes: the pods' restartCount) | " +
          "memoryBytes; prometheus: a PromQL expression; scrape: a metric name with optional label " +
          'matchers, e.g. http_errors_total{code=~"5.."} (series are summed); json: a dotted path, ' +
          "e.g. queue.lag or workers.0.busy.",
      ),
    max: threshold("The measurement fails when the value is above this.").optional(),
    min: threshold("The measurement fails when the value is below this.").optional(),
    interval: duration("Time between measurements of this metric (default: analysis.interval).").optional(),
    failureLimit: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe(
        "The metric fails at exactly the Nth failed measurement (counted over the whole run, not only " +
          "consecutive ones). 1 (default): the first bad value fails; 2: one bad value is tolerated.",
      ),
    consecutiveErrorLimit: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe(
        "The metric ends in `error` after this many measurements in a row could not be taken " +
          "(provider down, bad response). A successful measurement resets the count.",
      ),
    minSamples: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "proxy only: a measurement over fewer requests than this is inconclusive and not counted " +
          "(e.g. 50: an error rate over 3 requests decides nothing).",
      ),
    noData: z
      .enum(["pass", "fail", "inconclusive"])
      .default("inconclusive")
      .describe(
        "What a measurement without data means (empty Prometheus vector, missing series or path, " +
          "no instances): pass, fail (counts towards failureLimit) or inconclusive (not counted; " +
          "default).",
      ),
    url: z
      .string()
      .optional()
      .describe(
        "prometheus: the server's base URL (http://127.0.0.1:9090); scrape and json: the URL to " +
          "fetch, or a path such as /metrics fetched from each instance of `service`'s new release.",
      ),
    service: z
      .string()
      .optional()
      .describe(
        "The service whose new release is measured (proxy, driver, and scrape/json with a path url). " +
          "Without it, proxy and driver metrics cover every service being rolled out.",
      ),
    severity: z
      .enum(["critical", "warning"])
      .default("critical")
      .describe(
        "critical (default): a failure fails the analysis (rollback). warning: a failure is recorded " +
          "and alerted but does not roll back.",
      ),
  })
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (m.max === undefined && m.min === undefined) issue("max", "give max, min or both");
    if (m.max !== undefined && m.min !== undefined && m.min > m.max)
      issue("min", `min (${m.min}) is above max (${m.max})`);
    if (m.provider === "proxy" && !(proxyQueries as readonly string[]).includes(m.query))
      issue("query", `the proxy provider knows ${proxyQueries.join(", ")}; got "${m.query}"`);
    if (m.provider === "driver" && !(driverQueries as readonly string[]).includes(m.query))
      issue("query", `the driver provider knows ${driverQueries.join(", ")}; got "${m.query}"`);
    if (
      (m.provider === "prometheus" || m.provider === "scrape" || m.provider === "json") &&
      m.url === undefined
    )
      issue("url", `the ${m.provider} provider needs a url`);
    if ((m.provider === "scrape" || m.provider === "json") && m.url?.startsWith("/") && !m.service)
      issue("service", `a path url (${m.url}) is fetched from a service's instances: name the service`);
    if (m.provider !== "proxy" && m.minSamples > 0)
      issue(
        "minSamples",
        `only the proxy provider counts samples (requests); remove it from a ${m.provider} metric`,
      );
    if (m.interval !== undefined && m.interval <= 0) issue("interval", "must be greater than 0");
  })
  .describe("One metric gating a rollout.");

export const watchSchema = z
  .strictObject({
    autoRollbackWindow: duration(
      "After a deploy the daemon keeps evaluating the metrics; a failure within this window rolls back " +
        "automatically, a failure after it (within alertWindow) only alerts. 0 disables the watch.",
    ).default(15 * 60_000),
    alertWindow: duration(
      "How long the watch goes on after autoRollbackWindow, alerting on a failure (critical " +
        "analysis.breach, no rollback). Bounded because the watch keeps its measurements and failure " +
        "counts for the whole run. 0 ends the watch with autoRollbackWindow.",
    ).default(60 * 60_000),
    interval: duration("Time between measurements while watching (default: analysis.interval).").optional(),
  })
  .describe("Watching a release after its deploy.");

/** The defaults from the guides: error rate > 1 %, p95 > 2 s, CPU > 90 %, memory > 90 %. */
export const defaultMetricsInput: z.input<typeof metricSchema>[] = [
  { name: "error-rate", provider: "proxy", query: "errorRate", max: "1%", minSamples: 20 },
  { name: "latency-p95", provider: "proxy", query: "latencyP95", max: "2s", minSamples: 20 },
  { name: "cpu", provider: "driver", query: "cpu", max: "90%" },
  { name: "memory", provider: "driver", query: "memory", max: "90%" },
];

export const analysisSchema = z
  .strictObject({
    interval: duration("Time between measurements (each metric may set its own).").default(5000),
    bake: duration(
      "After promotion the new release is watched this long, the previous slot kept warm; a failure " +
        "rolls back. 0 disables the bake.",
    ).default(60_000),
    metrics: z
      .array(metricSchema)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((m, i) => {
          if (seen.has(m.name))
            ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate metric name "${m.name}"` });
          seen.add(m.name);
        });
      })
      .prefault(defaultMetricsInput)
      .describe(
        "The metrics. Without this key: error rate > 1 %, p95 latency > 2 s (both over at least 20 " +
          "requests), CPU > 90 %, memory > 90 % of the new release. An empty list disables analysis.",
      ),
    watch: watchSchema.prefault({}),
  })
  .superRefine((a, ctx) => {
    if (a.interval <= 0)
      ctx.addIssue({ code: "custom", path: ["interval"], message: "must be greater than 0" });
  })
  .describe(
    "Metric analysis: the gate of canary steps, the bake after promotion and the watch after a deploy.",
  );

export const analysisOverrideSchema = z
  .looseObject({
    metrics: z
      .array(
        z.looseObject({
          name: z.string().min(1).describe("A top-level (or default) metric's name, or a new metric's."),
          enabled: z.boolean().optional().describe("false: the metric of this name is not measured here."),
        }),
      )
      .optional()
      .describe(
        "Metrics merged by name over the top-level ones (or the defaults); [] turns analysis off here.",
      ),
  })
  .describe(
    "This environment's analysis: interval, bake and watch over the top-level `analysis:`, metrics merged by name.",
  );

export type AnalysisSpec = z.output<typeof analysisSchema>;
export type AnalysisMetric = z.output<typeof metricSchema>;

/** The default metrics, parsed (what `analysis: {}` yields). */
export const defaultMetrics: readonly AnalysisMetric[] = Object.freeze(
  z.array(metricSchema).parse(defaultMetricsInput),
);
