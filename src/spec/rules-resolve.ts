/**
 * How `rules:` and `runbooks:` resolve for one environment: the environment's rule overrides
 * merged by name, the rules' and runbooks' references checked (services, checks, channels,
 * schedules), and the alert route that sends a runbook's report to its channel.
 */
import type { PathSegment } from "./load.js";
import type { ParsedSpec } from "./schema.js";
import type { Rule, Runbook } from "./schema-rules.js";
import type { ResolvedSpec } from "./resolved.js";
import { didYouMean } from "./suggest.js";

type At = (path: PathSegment[], message: string) => void;

/** The rules, runbooks and report routes of the resolved spec; reference problems go to `at`. */
export function resolveRulesAndRunbooks(
  p: ParsedSpec,
  at: At,
): Pick<ResolvedSpec, "rules" | "runbooks" | "alerts"> {
  const services = Object.keys(p.services);
  const rules: Rule[] = (p.rules ?? []).filter((r) => r.enabled);
  (p.rules ?? []).forEach((r, i) => {
    if (r.service && !p.services[r.service])
      at(["rules", i, "service"], `no service "${r.service}"${didYouMean(r.service, services)}`);
  });
  const runbooks: Record<string, Runbook> = p.runbooks ?? {};
  for (const [name, rb] of Object.entries(runbooks)) checkRunbook(name, rb, p, at);
  (p.schedules ?? []).forEach((s, i) => {
    if (s.run !== "runbook") return;
    if (!s.runbook) at(["schedules", i, "runbook"], "run: runbook needs `runbook: NAME`");
    else if (!runbooks[s.runbook])
      at(
        ["schedules", i, "runbook"],
        `no runbook "${s.runbook}"${didYouMean(s.runbook, Object.keys(runbooks))}`,
      );
  });
  return { rules, runbooks, alerts: withReportRoutes(p.alerts, runbooks) };
}

function checkRunbook(name: string, rb: Runbook, p: ParsedSpec, at: At): void {
  const services = Object.keys(p.services);
  const backedUp = services.filter((s) => p.services[s]?.backup);
  const checks = p.checks ?? [];
  rb.steps.forEach((step, i) => {
    const here = (field: string, message: string) => at(["runbooks", name, "steps", i, field], message);
    const svcList = (field: "health" | "smoke" | "backup" | "restoreTest" | "retention", only?: string[]) => {
      const wanted = step[field];
      if (!wanted) return;
      for (const s of wanted) {
        if (s === "all") {
          if (field === "restoreTest") here(field, "name the service whose backup is restored");
          continue;
        }
        if (!p.services[s]) here(field, `no service "${s}"${didYouMean(s, services)}`);
        else if (only && !only.includes(s)) here(field, `service "${s}" has no backup block`);
      }
    };
    svcList("health");
    svcList("smoke");
    svcList("backup", backedUp);
    svcList("restoreTest", backedUp);
    svcList("retention", backedUp);
    for (const c of step.check ?? []) {
      const found = checks.filter((k) => k.name === c || k.kind === c);
      if (!found.length)
        here(
          "check",
          `no check "${c}" in checks:${didYouMean(
            c,
            checks.map((k) => k.name ?? k.kind),
          )}`,
        );
      else if (found.some((k) => k.kind === "confirm"))
        here("check", `"${c}" is a confirm item: it needs a person, not a runbook`);
    }
  });
  if (rb.report !== undefined && !(rb.report in (p.alerts?.channels ?? {}))) {
    const names = Object.keys(p.alerts?.channels ?? {});
    at(
      ["runbooks", name, "report"],
      `no channel "${rb.report}" in alerts.channels${names.length ? didYouMean(rb.report, names) : " (none defined)"}`,
    );
  }
}

/**
 * A route in front of the spec's routes per runbook with a `report`: its reports (event
 * runbook.report, label runbook) go to that channel at once and nowhere else.
 */
function withReportRoutes(
  alerts: ParsedSpec["alerts"],
  runbooks: Record<string, Runbook>,
): ParsedSpec["alerts"] {
  const reported = Object.entries(runbooks).filter(([, rb]) => rb.report && alerts?.channels[rb.report]);
  if (!alerts || !reported.length) return alerts;
  const routes = reported.map(([name, rb]) => ({
    match: { event: ["runbook.report"], runbook: [name] },
    receivers: [rb.report as string],
    continue: false,
    sendResolved: false,
    groupBy: ["..."],
    groupWait: 0,
  }));
  // Without routes every alert goes to every channel: keep that for the others.
  const rest = alerts.routes ?? [
    { match: {}, receivers: Object.keys(alerts.channels), continue: false, sendResolved: true },
  ];
  return { ...alerts, routes: [...routes, ...rest] };
}
