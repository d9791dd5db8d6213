/**
 * Pre-flight checks run by the daemon on a schedule (`schedules: [{ run: check }]`, and the
 * spec's `tls` checks once at start and daily by default): the same checks `slipway check` runs,
 * turned into alerts that stay open until the check passes again.
 *
 * - a `tls` check whose certificate has fewer than `minDays` left raises `certificate.expiring`
 *   (warning; critical at ≤ 3 days or expired) with `daysLeft` and `subject`; a later pass sends
 *   `certificate.renewed`, which resolves it;
 * - any other failure (a tls check that cannot read its certificate included) raises
 *   `check.failed` labelled with the check; a later pass sends `check.passed`, which resolves it.
 *
 * Only transitions are published (a check failing every minute is one open alert, not a stream
 * of them), remembered across daemon restarts in <home>/check-alerts.json. `confirm` checks need
 * a human and are not run; `env` checks need the variables of an operation, so they run only when
 * one brought them since the daemon started.
 */
import { join } from "node:path";
import {
  createCheckRunner,
  OpenAlerts,
  type CheckResult,
  type CheckSpec,
  type PreflightTarget,
  type EngineEvent,
  type Logger,
  type Resolution,
  type ResolvedSpec,
  type SecretAges,
} from "../index.js";
import { formatMs } from "../core.js";

/** Days left at or below which an expiring certificate is critical. */
export const CRITICAL_DAYS = 3;

export interface ScheduledChecksDeps {
  home: string;
  logger: Logger;
  publish: (spec: ResolvedSpec, e: EngineEvent) => void;
  latest: (project: string, env: string) => Resolution | undefined;
  /** The target's machines, when not this one (Docker SSH hosts): resources and gpu measure them. */
  preflight?: (spec: ResolvedSpec) => PreflightTarget | undefined;
  /** `secretAge` checks: when each secret's value was first seen (the engine's record). */
  secretAges?: (spec: ResolvedSpec) => SecretAges;
}

export interface ScheduledChecksRun {
  /** The schedule's name, for messages. */
  schedule: string;
  /** Only these check kinds (the daily tls job); default every kind that can run unattended. */
  kinds?: readonly string[];
}

export async function runScheduledChecks(
  deps: ScheduledChecksDeps,
  spec: ResolvedSpec,
  run: ScheduledChecksRun,
): Promise<CheckResult[]> {
  const latest = deps.latest(spec.project, spec.env);
  const checks = (spec.checks as CheckSpec[]).filter(
    (c) =>
      c.kind !== "confirm" &&
      (c.kind !== "env" || latest !== undefined) &&
      (!run.kinds || run.kinds.includes(c.kind)),
  );
  if (!checks.length) return [];
  const target = deps.preflight?.(spec);
  const runner = createCheckRunner({
    vars: latest?.vars ?? process.env,
    secrets: latest?.secrets.values(),
    ...(target ? { target } : {}),
    ...(deps.secretAges ? { secretAges: deps.secretAges(spec) } : {}),
  });
  const r = await runner({ dir: spec.dir, checks }, (e) => {
    const level = e.status === "failed" ? "error" : e.status === "warning" ? "warn" : "info";
    deps.logger[level](
      `${spec.project}/${spec.env} ${run.schedule}: check "${e.name}" ${e.status} (${formatMs(e.durationMs)})\n    ${e.evidence.split("\n").join("\n    ")}`,
    );
  });
  const open = new OpenAlerts(join(deps.home, "check-alerts.json"), spec.project, spec.env);
  const emit = (e: Extract<EngineEvent, { type: "alert" }>) => deps.publish(spec, e);
  const where = `${spec.project} ${spec.env}`;
  for (const [i, res] of r.results.entries()) {
    const key = res.name;
    const was = open.get(key); // "<kind>|<severity>" of the open alert
    const next = alertFor(res, checks[i], where, run.schedule);
    if (was && (!next || was.split("|")[0] !== next.kind)) {
      // It passes now (or fails differently): close what was open.
      emit(resolverFor(was.split("|")[0], res, where));
      open.delete(key);
    }
    if (next && open.get(key) !== `${next.kind}|${next.severity}`) {
      emit(next);
      open.set(key, `${next.kind}|${next.severity}`);
    }
  }
  open.save();
  return r.results;
}

function alertFor(
  res: CheckResult,
  check: CheckSpec,
  where: string,
  schedule: string,
): Extract<EngineEvent, { type: "alert" }> | undefined {
  if (res.status === "passed" || res.status === "skipped") return undefined;
  const d = res.details ?? {};
  if (check.kind === "tls" && typeof d.daysLeft === "number" && d.daysLeft < check.minDays) {
    const daysLeft = d.daysLeft;
    const subject = String(d.subject);
    return {
      type: "alert",
      kind: "certificate.expiring",
      severity: daysLeft <= CRITICAL_DAYS ? "critical" : "warning",
      message:
        daysLeft < 0
          ? `${where}: certificate ${subject} (${String(d.source)}) expired ${-daysLeft} day(s) ago`
          : `${where}: certificate ${subject} (${String(d.source)}) expires in ${daysLeft} day(s) (minDays ${check.minDays})`,
      data: {
        daysLeft,
        subject,
        source: d.source,
        notAfter: d.notAfter,
        minDays: check.minDays,
        schedule,
        labels: { check: res.name },
      },
    };
  }
  if (check.kind === "secretAge") return secretAlert(res, where, schedule);
  return {
    type: "alert",
    kind: "check.failed",
    severity: "warning",
    message: `${where}: scheduled check "${res.name}" failed (${schedule}): ${res.evidence}`,
    data: { check: res.name, evidence: res.evidence, schedule, stateful: true, labels: { check: res.name } },
  };
}

/** A secret near (warning) or past (critical) its maximum age; `secret.rotated` resolves it. */
function secretAlert(
  res: CheckResult,
  where: string,
  schedule: string,
): Extract<EngineEvent, { type: "alert" }> {
  const expired = res.status === "failed";
  return {
    type: "alert",
    kind: "secret.expiring",
    severity: expired ? "critical" : "warning",
    message: `${where}: ${expired ? "secret past its maximum age" : "secret near its maximum age"} (${schedule}): ${res.evidence}`,
    data: { ...res.details, schedule, labels: { check: res.name } },
  };
}

function resolverFor(kind: string, res: CheckResult, where: string): Extract<EngineEvent, { type: "alert" }> {
  const labels = { check: res.name };
  if (kind === "secret.expiring")
    return {
      type: "alert",
      kind: "secret.rotated",
      severity: "info",
      message: `${where}: ${res.evidence}`,
      data: { ...res.details, labels },
    };
  if (kind === "certificate.expiring")
    return {
      type: "alert",
      kind: "certificate.renewed",
      severity: "info",
      message: `${where}: ${res.evidence}`,
      data: { ...res.details, labels },
    };
  return {
    type: "alert",
    kind: "check.passed",
    severity: "info",
    message: `${where}: check "${res.name}" ${res.status === "passed" ? "passes again" : `is now ${res.status}`}: ${res.evidence}`,
    data: { resolves: kind, labels },
  };
}
