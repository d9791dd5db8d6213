/** PostgreSQL rows → store records: jsonb arrives parsed, timestamptz as Date, bigint ids as text. */
import { rowMappers } from "../rows.js";

export const { toRevision, toStep, toEvent } = rowMappers({
  json: <T>(v: unknown, fallback: T): T => (v ?? fallback) as T,
  time: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  bool: (v) => v === true,
  id: (v) => Number(v),
});
