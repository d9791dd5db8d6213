/**
 * Running a runbook (issue 13, item 2): its steps in order, each with its timeout; a failed step
 * marks the run failed and the rest still runs unless `stopOnFailure`. The report is kept in the
 * environment's event history (`runbook.report`, revision-less, like other day-two verbs) and,
 * with `report: CHANNEL`, sent to that channel; a failed run raises `runbook.failed` through the
 * routes, which the next passing run of the runbook resolves (`runbook.passed`).
 */
import { errorMessage, OperationFailed, UsageError } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import { stepKindOf, type RunbookStep, type StepKind } from "../../spec/schema-rules.js";
import { didYouMean } from "../../spec/suggest.js";
import type { EngineDeps } from "../context.js";
import { noopSink, type EngineEvent, type EventSink } from "../events.js";
import { describeStep, runStep } from "./steps.js";

export interface RunbookStepReport {
  index: number;
  name: string;
  kind: StepKind;
  status: "passed" | "failed" | "skipped";
  evidence: string;
  durationMs: number;
  /** A terraform step: what its plan added, changed and destroyed, whether it applied, the outputs. */
  terraform?: Record<string, unknown>;
}

export interface RunbookReport {
  runbook: string;
  project: string;
  env: string;
  status: "passed" | "failed";
  /** Who ran it: the CLI's user, or `schedule:<name>`. */
  trigger: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  steps: RunbookStepReport[];
}

export interface RunbookOptions {
  emit?: EventSink;
  signal?: AbortSignal;
  /** `schedule:<name>` when the scheduler runs it; default the acting user. */
  trigger?: string;
}

export async function runRunbook(
  deps: EngineDeps,
  resolution: Resolution,
  name: string,
  opts: RunbookOptions = {},
): Promise<RunbookReport> {
  const spec = resolution.spec;
  const runbooks = spec.runbooks ?? {};
  const rb = runbooks[name];
  if (!rb) {
    const names = Object.keys(runbooks);
    throw new UsageError(
      `no runbook "${name}"${didYouMean(name, names)}; defined: ${names.join(", ") || "none (runbooks:)"}`,
    );
  }
  const emit = opts.emit ?? noopSink;
  const started = Date.now();
  const steps: RunbookStepReport[] = [];
  let stopped = false;
  for (const [index, step] of rb.steps.entries()) {
    const kind = stepKindOf(step);
    const label = step.name ?? describeStep(step);
    if (stopped || opts.signal?.aborted) {
      steps.push({
        index,
        name: label,
        kind,
        status: "skipped",
        evidence: "not run: an earlier step failed",
        durationMs: 0,
      });
      continue;
    }
    emit({ type: "log", level: "info", message: `${name} step ${index + 1}/${rb.steps.length}: ${label}…` });
    const report = await runOne(deps, resolution, step, { index, label, emit, signal: opts.signal });
    steps.push(report);
    const ok = report.status === "passed";
    if (!ok && rb.stopOnFailure && !step.continueOnFailure) stopped = true;
  }
  const failed = steps.filter((s) => s.status === "failed");
  const report: RunbookReport = {
    runbook: name,
    project: spec.project,
    env: spec.env,
    status: failed.length ? "failed" : "passed",
    trigger: opts.trigger ?? deps.actor,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    steps,
  };
  await record(deps, resolution, report, rb.report !== undefined, rb.severity);
  if (failed.length) {
    const e = new OperationFailed(
      `runbook ${name} failed: ${failed.length} of ${steps.length} step(s) failed (${failed.map((s) => s.name).join("; ")})`,
    );
    e.details = { report };
    throw e;
  }
  return report;
}

/** One step with its timeout; a thrown error is a failed step. */
async function runOne(
  deps: EngineDeps,
  resolution: Resolution,
  step: RunbookStep,
  o: { index: number; label: string; emit: EventSink; signal?: AbortSignal },
): Promise<RunbookStepReport> {
  const t0 = Date.now();
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`timed out after ${Math.round(step.timeout / 1000)}s`));
    }, step.timeout);
  });
  let ok: boolean;
  let evidence: string;
  let terraform: Record<string, unknown> | undefined;
  try {
    const r = await Promise.race([
      runStep(step, { deps, resolution, emit: o.emit, signal: ac.signal }),
      timeout,
    ]);
    ok = r.ok;
    evidence = r.evidence;
    terraform = r.details?.terraform as Record<string, unknown> | undefined;
  } catch (e) {
    ok = false;
    evidence = errorMessage(e);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onAbort);
  }
  o.emit({
    type: "log",
    level: ok ? "info" : "error",
    status: ok ? "ok" : "failed",
    message: `${o.label}: ${ok ? "passed" : "failed"}${evidence ? `\n  ${evidence.split("\n").join("\n  ")}` : ""}`,
  });
  return {
    index: o.index,
    name: o.label,
    kind: stepKindOf(step),
    status: ok ? "passed" : "failed",
    evidence,
    durationMs: Date.now() - t0,
    ...(terraform ? { terraform } : {}),
  };
}

/** The report in history (and to its channel), and the runbook.failed / runbook.passed alert. */
async function record(
  deps: EngineDeps,
  resolution: Resolution,
  report: RunbookReport,
  toChannel: boolean,
  severity: "critical" | "warning",
): Promise<void> {
  const { project, env } = resolution.spec;
  const where = `${project} ${env}`;
  const passed = report.steps.filter((s) => s.status === "passed").length;
  const summary = `${where}: runbook ${report.runbook} ${report.status} (${passed}/${report.steps.length} steps passed, ${report.trigger})`;
  const lines = report.steps.map(
    (s) =>
      `${s.status === "passed" ? "ok" : s.status} ${s.name}${s.status === "failed" ? `: ${s.evidence.split("\n")[0]}` : ""}`,
  );
  const event: Extract<EngineEvent, { type: "alert" }> = {
    type: "alert",
    kind: "runbook.report",
    severity: report.status === "passed" ? "info" : "warning",
    message: `${summary}\n${lines.join("\n")}`,
    data: { report, labels: { runbook: report.runbook } },
  };
  // Reported runbooks go through the events (stored, and routed to their channel); the others are
  // only stored, so a catch-all route does not receive every run.
  if (toChannel) deps.publish?.(project, env, event);
  else
    await deps.store
      .addEvent({
        project,
        env,
        time: report.finishedAt,
        kind: event.kind,
        severity: event.severity,
        message: event.message,
        data: event.data,
      })
      .catch((e: unknown) => deps.logger.warn(`could not record the runbook report: ${errorMessage(e)}`));
  const labels = { runbook: report.runbook };
  deps.publish?.(
    project,
    env,
    report.status === "failed"
      ? {
          type: "alert",
          kind: "runbook.failed",
          severity,
          message:
            summary +
            `: ${report.steps
              .filter((s) => s.status === "failed")
              .map((s) => `${s.name}: ${s.evidence.split("\n")[0]}`)
              .join("; ")}`,
          data: { runbook: report.runbook, stateful: true, labels },
        }
      : {
          type: "alert",
          kind: "runbook.passed",
          severity: "info",
          message: summary,
          data: { runbook: report.runbook, resolves: "runbook.failed", labels },
        },
  );
}
