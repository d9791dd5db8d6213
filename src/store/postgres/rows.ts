/** PostgreSQL rows → store records (jsonb arrives parsed, timestamptz as Date). */
import type { JournalStep, EventRecord, Revision } from "../store.js";

type Row = Record<string, unknown>;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

export function toRevision(r: Row): Revision {
  const rev: Revision = {
    project: r.project as string,
    env: r.env as string,
    number: r.number as number,
    version: r.version as string,
    status: r.status as Revision["status"],
    snapshot: r.snapshot,
    services: r.services as string[],
    actor: r.actor as string,
    description: r.description as string,
    skipChecks: r.skip_checks === true,
    createdAt: iso(r.created_at),
    facts: (r.facts ?? {}) as Record<string, unknown>,
  };
  if (r.rollback_of !== null) rev.rollbackOf = r.rollback_of as number;
  if (r.finished_at !== null) rev.finishedAt = iso(r.finished_at);
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
  if (r.started_at !== null) s.startedAt = iso(r.started_at);
  if (r.finished_at !== null) s.finishedAt = iso(r.finished_at);
  if (r.duration_ms !== null) s.durationMs = r.duration_ms as number;
  if (r.message !== null) s.message = r.message as string;
  if (r.data !== null) s.data = r.data as Record<string, unknown>;
  return s;
}

export function toEvent(r: Row): EventRecord {
  const e: EventRecord = {
    id: Number(r.id),
    project: r.project as string,
    env: r.env as string,
    time: iso(r.time),
    kind: r.kind as string,
    severity: r.severity as EventRecord["severity"],
    message: r.message as string,
  };
  if (r.service !== null) e.service = r.service as string;
  if (r.revision !== null) e.revision = r.revision as number;
  if (r.data !== null) e.data = r.data as Record<string, unknown>;
  return e;
}
