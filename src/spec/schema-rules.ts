/**
 * Standing alert rules (`rules:`) and runbooks (`runbooks:`), issue 13 items 1 and 2.
 *
 * A rule is an analysis metric (same provider, query, max/min, url, service as
 * `analysis.metrics`) that the daemon evaluates all the time, not only during a rollout, plus
 * `for` and `severity`, as a Prometheus alerting rule. Environments override rules by name
 * (`environments.production.rules: [{ name: high-cpu, max: 70% }]`).
 *
 * A runbook is a named procedure: steps Slipway already knows (checks, a health sweep, backups,
 * a restore test, retention, a command, smoke requests), run on demand (`slipway run ENV NAME`)
 * or from `schedules:` (`run: runbook`).
 */
import { z } from "zod";
import { duration, name } from "./fields.js";
import { driverQueries, metricSchema, proxyQueries } from "./schema-analysis.js";
import { terraformStepSchema } from "./schema-infra.js";

const m = metricSchema.shape;

export const ruleSeverities = ["critical", "warning", "info"] as const;

const ruleFields = {
  name: name.describe("Name of the rule, unique in the list; environments override rules by name."),
  provider: m.provider.describe(
    "Where the value comes from: proxy (the Slipway proxy's per-target stats of the serving instances), " +
      "driver (their CPU/memory), prometheus (an instant query on a Prometheus HTTP API), scrape (a " +
      "Prometheus text-format endpoint), json (a number in a JSON document).",
  ),
  query: m.query,
  max: m.max.describe("The rule is breached while the value is above this."),
  min: m.min.describe("The rule is breached while the value is below this."),
  url: m.url.describe(
    "prometheus: the server's base URL (http://127.0.0.1:9090); scrape and json: the URL to fetch, or " +
      "a path such as /metrics fetched from each serving instance of `service`.",
  ),
  service: z
    .string()
    .optional()
    .describe(
      "The service measured (its serving instances: proxy, driver, and scrape/json with a path url); " +
        "also the alert's service label. Without it, proxy and driver rules cover every service.",
    ),
  minSamples: m.minSamples,
  for: duration(
    "How long the rule must stay breached before it fires (pending meanwhile); 0 fires at the " +
      "first breached evaluation. Prometheus' `for`.",
  ).default(0),
  severity: z
    .enum(ruleSeverities)
    .default("warning")
    .describe("The alert's severity (routes match on it): critical, warning (default) or info."),
  interval: duration("Time between evaluations of this rule (default 15s).")
    .refine((ms) => ms >= 1000, "must be at least 1s")
    .default(15_000),
  noData: z
    .enum(["pass", "fail", "inconclusive"])
    .default("pass")
    .describe(
      "What an evaluation without data means (no requests, no instances, an empty vector): pass " +
        "(default; like Prometheus, no value is no breach and a firing rule resolves), fail (a breach: " +
        "e.g. a service that is down) or inconclusive (the state stays as it is).",
    ),
  summary: z
    .string()
    .optional()
    .describe("One line put in front of the alert's message, e.g. 'API error rate above 1 %'."),
  labels: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "expected a label name"), z.string())
    .optional()
    .describe("Extra labels on the alert, for routes and silences (e.g. team: payments)."),
  enabled: z
    .boolean()
    .default(true)
    .describe("false switches the rule off (an environment override can switch off a shared rule)."),
};

export const ruleSchema = z
  .strictObject(ruleFields)
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (r.max === undefined && r.min === undefined) issue("max", "give max, min or both");
    if (r.max !== undefined && r.min !== undefined && r.min > r.max)
      issue("min", `min (${r.min}) is above max (${r.max})`);
    if (r.provider === "proxy" && !(proxyQueries as readonly string[]).includes(r.query))
      issue("query", `the proxy provider knows ${proxyQueries.join(", ")}; got "${r.query}"`);
    if (r.provider === "driver" && !(driverQueries as readonly string[]).includes(r.query))
      issue("query", `the driver provider knows ${driverQueries.join(", ")}; got "${r.query}"`);
    if (r.provider !== "proxy" && r.provider !== "driver" && r.url === undefined)
      issue("url", `the ${r.provider} provider needs a url`);
    if ((r.provider === "scrape" || r.provider === "json") && r.url?.startsWith("/") && !r.service)
      issue("service", `a path url (${r.url}) is fetched from a service's instances: name the service`);
    if (r.provider !== "proxy" && r.minSamples > 0)
      issue(
        "minSamples",
        `only the proxy provider counts samples (requests); remove it from a ${r.provider} rule`,
      );
  })
  .describe("A standing alert rule: a metric evaluated all the time, firing after `for`.");

/** A per-environment override: the rule's name and the fields that differ (or a new rule). */
export const ruleOverrideSchema = z
  .looseObject({ name: name.describe("The rule overridden (or added) in this environment.") })
  .describe(
    "A rule of this environment, merged by name over the top-level rule of that name (only the " +
      "fields given change: production stricter than staging), or a new rule.",
  );

export const rulesSchema = z
  .array(ruleSchema)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((r, i) => {
      if (seen.has(r.name))
        ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate rule name "${r.name}"` });
      seen.add(r.name);
    });
  })
  .describe(
    "Standing alert rules, evaluated by the daemon on an interval with the analysis providers; " +
      "`slipway rules ENV` shows their state, the daemon's /metrics exports it.",
  );

export type Rule = z.output<typeof ruleSchema>;

// ── runbooks ─────────────────────────────────────────────────────────────────────────────────

const services = (what: string) =>
  z
    .union([z.literal("all"), z.string().min(1), z.array(z.string().min(1)).min(1)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .describe(what);

export const stepKinds = [
  "check",
  "health",
  "backup",
  "backupVerify",
  "restoreTest",
  "retention",
  "command",
  "smoke",
  "terraform",
] as const;
export type StepKind = (typeof stepKinds)[number];

export const runbookStepSchema = z
  .strictObject({
    name: z.string().optional().describe("How the step is shown in the report (default: what it does)."),
    check: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .transform((v) => (Array.isArray(v) ? v : [v]))
      .optional()
      .describe(
        "Items of `checks:` by name: a check's `name`, or its kind (tls: every tls check). `confirm` " +
          "items need a person and are refused here.",
      ),
    health: services(
      "Probe every serving instance of these services (all, a name or a list); fails on one that is down or unhealthy.",
    ).optional(),
    backup: services(
      "Take a backup now of these services (all: every service with a backup block).",
    ).optional(),
    backupVerify: z
      .string()
      .min(1)
      .optional()
      .describe(
        "latest: verify the newest backup of every backed-up service (restored into a scratch database " +
          "or directory and compared); or one backup id.",
      ),
    restoreTest: services(
      "A restore drill: take a fresh backup of the service, restore it into a scratch database " +
        "(or directory), compare tables and row counts with the live data's, drop the scratch copy.",
    ).optional(),
    retention: services("Apply the backup retention (keepLast, maxAge) of these services.").optional(),
    command: z
      .string()
      .min(1)
      .optional()
      .describe("A shell command run in the spec's directory; exit 0 passes."),
    smoke: services("Run these services' smoke requests (all, a name or a list).").optional(),
    terraform: terraformStepSchema
      .optional()
      .describe(
        "terraform plan, then apply of exactly that plan file (dir relative to slipway.yaml; workspace " +
          "default: the environment's name); the report holds the summary (adds, changes, destroys) and outputs.",
      ),
    allowDestroy: z
      .boolean()
      .optional()
      .describe("A terraform step in a protected environment may apply a plan that destroys resources."),
    timeout: duration("How long the step may take (default 10m).").default(600_000),
    continueOnFailure: z
      .boolean()
      .optional()
      .describe("With the runbook's stopOnFailure: this step's failure does not stop the run."),
  })
  .superRefine((s, ctx) => {
    const given = stepKinds.filter((k) => s[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: "custom",
        message: given.length
          ? `a step does one thing; this one has ${given.join(" and ")}`
          : `a step needs one of ${stepKinds.join(", ")}`,
      });
  })
  .describe(
    "One step of a runbook: exactly one of check, health, backup, backupVerify, restoreTest, retention, command, smoke, terraform.",
  );

export const runbookSchema = z
  .strictObject({
    description: z.string().optional().describe("What the runbook is for."),
    steps: z.array(runbookStepSchema).min(1).describe("The steps, run in order."),
    stopOnFailure: z
      .boolean()
      .default(false)
      .describe("Stop at the first failed step (default: the rest still runs and the run is failed)."),
    report: z
      .string()
      .optional()
      .describe(
        "A channel of alerts.channels that receives every run's report (passed or failed). A failed " +
          "run also raises runbook.failed through the routes.",
      ),
    severity: z
      .enum(["critical", "warning"])
      .default("warning")
      .describe(
        "Severity of the runbook.failed alert a failed run raises (resolved by the next passing run).",
      ),
  })
  .describe("A named procedure: `slipway run ENV NAME`, or `schedules: [{ run: runbook, runbook: NAME }]`.");

export const runbooksSchema = z
  .record(name, runbookSchema)
  .describe("Runbooks by name: the daily/weekly/monthly checklists as steps Slipway runs and reports.");

export type Runbook = z.output<typeof runbookSchema>;
export type RunbookStep = z.output<typeof runbookStepSchema>;

/** What a step does, for messages: its kind. */
export function stepKindOf(s: RunbookStep): StepKind {
  return stepKinds.find((k) => s[k] !== undefined) as StepKind;
}
