/**
 * Field ↔ column names shared by the implementations, so that patch updates
 * (updateRevision, journalUpdate) touch exactly the same columns everywhere.
 */
import type { JournalStep, Revision } from "./store.js";

export interface PatchColumn {
  column: string;
  json?: boolean;
}

export const REVISION_PATCH: Record<"status" | "finishedAt" | "reason" | "facts", PatchColumn> = {
  status: { column: "status" },
  finishedAt: { column: "finished_at" },
  reason: { column: "reason" },
  facts: { column: "facts", json: true },
};

export const JOURNAL_PATCH: Partial<Record<keyof JournalStep, PatchColumn>> = {
  kind: { column: "kind" },
  service: { column: "service" },
  description: { column: "description" },
  status: { column: "status" },
  startedAt: { column: "started_at" },
  finishedAt: { column: "finished_at" },
  durationMs: { column: "duration_ms" },
  message: { column: "message" },
  data: { column: "data", json: true },
};

/** The (column, value) pairs of a patch; keys that are absent or undefined are left alone. */
export function patchPairs<T extends object>(
  patch: T,
  map: Partial<Record<keyof T, PatchColumn>>,
  encodeJson: (v: unknown) => unknown,
): { column: string; value: unknown }[] {
  const out: { column: string; value: unknown }[] = [];
  for (const [key, value] of Object.entries(patch)) {
    const col = map[key as keyof T];
    if (!col || value === undefined) continue;
    out.push({ column: col.column, value: col.json ? encodeJson(value) : value });
  }
  return out;
}

export type RevisionPatch = Partial<Pick<Revision, "status" | "finishedAt" | "reason" | "facts">>;
