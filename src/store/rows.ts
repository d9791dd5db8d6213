/**
 * Database rows → store records, for both stores: what differs between them is only how a
 * column comes back (a dialect: JSON as text or parsed, times as text or Date, booleans as 0/1
 * or true, ids as number or string).
 */
import type { EventRecord, JournalStep, Revision } from "./store.js";

export type Row = Record<string, unknown>;

export interface RowDialect {
  /** A JSON column, or `fallback` when it is NULL. */
  json<T>(v: unknown, fallback: T): T;
  time(v: unknown): string;
  bool(v: unknown): boolean;
  id(v: unknown): number;
}

export interface RowMappers {
  toRevision(r: Row): Revision;
  toStep(r: Row): JournalStep;
  toEvent(r: Row): EventRecord;
}

export function rowMappers(d: RowDialect): RowMappers {
  return {
    toRevision(r) {
      const rev: Revision = {
        project: r.project as string,
        env: r.env as string,
        number: r.number as number,
        version: r.version as string,
        status: r.status as Revision["status"],
        snapshot: d.json<unknown>(r.snapshot, null),
        services: d.json<string[]>(r.services, []),
        actor: r.actor as string,
        description: r.description as string,
        skipChecks: d.bool(r.skip_checks),
        createdAt: d.time(r.created_at),
        facts: d.json<Record<string, unknown>>(r.facts, {}),
      };
      if (r.rollback_of !== null) rev.rollbackOf = r.rollback_of as number;
      if (r.finished_at !== null) rev.finishedAt = d.time(r.finished_at);
      if (r.reason !== null) rev.reason = r.reason as string;
      return rev;
    },
    toStep(r) {
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
      if (r.started_at !== null) s.startedAt = d.time(r.started_at);
      if (r.finished_at !== null) s.finishedAt = d.time(r.finished_at);
      if (r.duration_ms !== null) s.durationMs = r.duration_ms as number;
      if (r.message !== null) s.message = r.message as string;
      if (r.data !== null) s.data = d.json<Record<string, unknown>>(r.data, {});
      return s;
    },
    toEvent(r) {
      const e: EventRecord = {
        id: d.id(r.id),
        project: r.project as string,
        env: r.env as string,
        time: d.time(r.time),
        kind: r.kind as string,
        severity: r.severity as EventRecord["severity"],
        message: r.message as string,
      };
      if (r.service !== null) e.service = r.service as string;
      if (r.revision !== null) e.revision = r.revision as number;
      if (r.data !== null) e.data = d.json<Record<string, unknown>>(r.data, {});
      return e;
    },
  };
}
