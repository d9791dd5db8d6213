/**
 * Columns and row mapping of backup_records and alert_silences, shared by the SQLite and
 * PostgreSQL stores so both write and read exactly the same fields.
 */
import type { BackupConfig, BackupFacts, BackupType } from "../backup/provider.js";
import type { BackupRecord, BackupStatus, SilenceRecord } from "./records.js";

type Row = Record<string, unknown>;

export const BACKUP_COLUMNS = [
  "id",
  "project",
  "env",
  "service",
  "revision",
  "type",
  "status",
  "source",
  "started_at",
  "finished_at",
  "size",
  "sha256",
  "location",
  "storage_key",
  "facts",
  "config",
  "error",
  "verified_at",
  "verify_detail",
] as const;

/** Values in BACKUP_COLUMNS order; JSON columns as text (SQLite TEXT, PostgreSQL jsonb input). */
export function backupValues(r: BackupRecord): unknown[] {
  return [
    r.id,
    r.project,
    r.env,
    r.service,
    r.revision ?? null,
    r.type,
    r.status,
    r.source,
    r.startedAt,
    r.finishedAt ?? null,
    r.size ?? null,
    r.sha256 ?? null,
    r.location ?? null,
    r.key,
    JSON.stringify(r.facts ?? {}),
    JSON.stringify(r.config ?? {}),
    r.error ?? null,
    r.verifiedAt ?? null,
    r.verifyDetail ?? null,
  ];
}

/** SQLite returns JSON columns as text, PostgreSQL's jsonb as values. */
const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

export function backupFromRow(r: Row): BackupRecord {
  const rec: BackupRecord = {
    id: String(r.id),
    project: String(r.project),
    env: String(r.env),
    service: String(r.service),
    type: r.type as BackupType,
    status: r.status as BackupStatus,
    source: String(r.source),
    startedAt: String(r.started_at),
    key: String(r.storage_key),
    facts: json<BackupFacts>(r.facts),
    config: json<BackupConfig>(r.config),
  };
  if (r.revision != null) rec.revision = Number(r.revision);
  if (r.finished_at != null) rec.finishedAt = String(r.finished_at);
  if (r.size != null) rec.size = Number(r.size);
  if (r.sha256 != null) rec.sha256 = String(r.sha256);
  if (r.location != null) rec.location = String(r.location);
  if (r.error != null) rec.error = String(r.error);
  if (r.verified_at != null) rec.verifiedAt = String(r.verified_at);
  if (r.verify_detail != null) rec.verifyDetail = String(r.verify_detail);
  return rec;
}

export const SILENCE_COLUMNS = [
  "project",
  "env",
  "id",
  "matchers",
  "starts_at",
  "ends_at",
  "author",
  "comment",
  "created_at",
] as const;

/** Times normalised to ISO UTC with milliseconds, so SQLite's text comparisons order them. */
export function silenceValues(s: SilenceRecord): unknown[] {
  return [
    s.project,
    s.env,
    s.id,
    JSON.stringify(s.matchers),
    iso(s.startsAt),
    iso(s.endsAt),
    s.author,
    s.comment,
    iso(s.createdAt),
  ];
}

export function silenceFromRow(r: Row): SilenceRecord {
  return {
    id: String(r.id),
    project: String(r.project),
    env: String(r.env),
    matchers: json<Record<string, string[]>>(r.matchers),
    startsAt: iso(r.starts_at),
    endsAt: iso(r.ends_at),
    author: String(r.author),
    comment: String(r.comment),
    createdAt: iso(r.created_at),
  };
}

export { iso as isoTime };
