/** SQLite rows → store records (JSON columns are TEXT, booleans 0/1). */
import type { JournalStep, EventRecord, Revision } from "../store.js";

type Row = Record<string, unknown>;

const parse = <T>(v: unknown, fallback: T): T => (typeof v === "string" ? (JSON.parse(v) as T) : fallback);

export function toRevision(r: Row): Revision {
  const rev: Revision = {
    project: r.project as string,
    env: r.env as string,
    number: r.number as number,
    version: r.version as string,
    status: r.status as Revision["status"],
    snapshot: parse<unknown>(r.snapshot, null),
    services: parse<string[]>(r.services, []),
    actor: r.actor as string,
    description: r.description as string,
    skipChecks: r.skip_checks === 1,
    createdAt: r.created_at as string,
    facts: parse<Record<string, unknown>>(r.facts, {}),
  };
  if (r.rollback_of !== null) rev.rollbackOf = r.rollback_of as number;
  if (r.finished_at !== null) rev.finishedAt = r.finished_at as string;
  if (r.reason !== null) rev.reason = r.reason as string;
  return rev;
}

export function toStep(r: Row): JournalStep {
  const s: JournalStep = {
    project: r.project as string,
    env: r.env as string,
    revision: r.revision as number,
    seq: r.seq as number,
    kind: r.kind as string,
    description: r.description as string,
    status: r.status as JournalStep["status"],
  };
  if (r.service !== null) s.service = r.service as string;
  if (r.started_at !== null) s.startedAt = r.started_at as string;
  if (r.finished_at !== null) s.finishedAt = r.finished_at as string;
  if (r.duration_ms !== null) s.durationMs = r.duration_ms as number;
  if (r.message !== null) s.message = r.message as string;
  if (r.data !== null) s.data = parse<Record<string, unknown>>(r.data, {});
  return s;
}

export function toEvent(r: Row): EventRecord {
  const e: EventRecord = {
    id: r.id as number,
    project: r.project as string,
    env: r.env as string,
    time: r.time as string,
    kind: r.kind as string,
    severity: r.severity as EventRecord["severity"],
    message: r.message as string,
  };
  if (r.service !== null) e.service = r.service as string;
  if (r.revision !== null) e.revision = r.revision as number;
  if (r.data !== null) e.data = parse<Record<string, unknown>>(r.data, {});
  return e;
}
