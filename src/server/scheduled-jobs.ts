/**
 * The jobs of the daemon's scheduler (scheduler.ts), as a spec asks for them: backups and
 * verifies of `backup:` blocks, `schedules:` entries, and the daily tls check.
 */
import { backedUpServices, type ResolvedService, type ResolvedSpec } from "../index.js";

export type JobKind = "backup" | "backup-verify" | "health" | "check" | "runbook";

export interface JobInfo {
  project: string;
  env: string;
  /** `backup:<service>`, `verify:<service>`, or the name of a `schedules:` entry. */
  name: string;
  cron: string;
  run: JobKind;
  services: string[];
  next?: string;
}

/** A `schedules:` entry, or a default job's equivalent (`checks` narrows a check run to these kinds). */
export type ScheduleEntry = ResolvedSpec["schedules"][number] & { checks?: readonly string[] };

/** The default job for `tls` checks: its name and when it runs (daily, 09:00 daemon time). */
export const TLS_JOB = "tls-expiry";
export const DAILY_TLS_CRON = "0 9 * * *";

/** A job as the spec defines it, before the scheduler gives it a timer. */
export interface PlannedJob extends Omit<JobInfo, "next"> {
  signature: string;
  spec: ResolvedSpec;
  entry?: ScheduleEntry;
  /** Also run once when the job is created (the daily tls job). */
  runAtStart?: boolean;
}

/** The jobs a spec asks for, each with a signature that changes when its definition does. */
export function jobsOf(spec: ResolvedSpec): PlannedJob[] {
  const out: PlannedJob[] = [];
  const base = { project: spec.project, env: spec.env, spec };
  const add = (
    name: string,
    cron: string,
    run: JobKind,
    services: ResolvedService[],
    entry?: ScheduleEntry,
  ) =>
    out.push({
      ...base,
      name,
      cron,
      run,
      services: services.map((s) => s.name),
      entry,
      signature: JSON.stringify([
        cron,
        run,
        services.map((s) => [s.name, s.backup]),
        entry?.checks,
        entry?.runbook,
      ]),
    });
  const backed = backedUpServices(spec);
  for (const svc of backed) {
    const b = svc.backup;
    if (b?.schedule) add(`backup:${svc.name}`, b.schedule, "backup", [svc]);
    if (typeof b?.verify === "string") add(`verify:${svc.name}`, b.verify, "backup-verify", [svc]);
  }
  for (const s of spec.schedules ?? []) {
    if (s.env !== undefined && s.env !== spec.env) continue;
    if (s.run === "backup" || s.run === "backup-verify") {
      if (backed.length) add(s.name, s.cron, s.run, backed, s);
    } else add(s.name, s.cron, s.run, [], s);
  }
  if (spec.checks.some((c) => c.kind === "tls") && !out.some((j) => j.run === "check")) {
    const entry: ScheduleEntry = {
      name: TLS_JOB,
      cron: DAILY_TLS_CRON,
      run: "check",
      heal: "none",
      checks: ["tls"],
    };
    add(TLS_JOB, DAILY_TLS_CRON, "check", [], entry);
    out[out.length - 1].runAtStart = true;
  }
  return out;
}
