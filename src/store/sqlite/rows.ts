/** SQLite rows → store records: JSON columns are TEXT, times TEXT, booleans 0/1. */
import { rowMappers } from "../rows.js";

export const { toRevision, toStep, toEvent } = rowMappers({
  json: <T>(v: unknown, fallback: T): T => (typeof v === "string" ? (JSON.parse(v) as T) : fallback),
  time: (v) => v as string,
  bool: (v) => v === 1,
  id: (v) => v as number,
});
