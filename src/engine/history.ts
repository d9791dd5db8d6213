/**
 * `slipway history ENV`: the revisions, newest first, each with the revision-less events that
 * happened while it was the newest — today `slipway scale` (`service.scaled`: who, which
 * service, from → to), which changes what runs without making a revision. Every entry keeps its
 * `revision` (the `--json` document's shape is unchanged); the events ride on it as `events`.
 */
import { UsageError } from "../errors.js";
import type { JournalStep, Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";

/** Kinds of events that change what runs without a revision, shown in history between revisions. */
export const HISTORY_EVENT_KINDS = ["service.scaled"] as const;

export interface HistoryEvent {
  kind: string;
  time: string;
  actor?: string;
  service?: string;
  /** The deployed revision it happened under (no new revision is made). */
  revision?: number;
  message: string;
  data?: Record<string, unknown>;
}

/** A revision (with its steps when one is asked for) and the events made under it, newest first. */
export interface HistoryEntry {
  revision: Revision;
  steps?: JournalStep[];
  events?: HistoryEvent[];
}

/** How many recent events are searched for the history's events. */
const EVENT_WINDOW = 5000;

export async function history(
  deps: EngineDeps,
  project: string,
  env: string,
  opts: { revision?: number; limit?: number } = {},
): Promise<HistoryEntry[]> {
  const { store } = deps;
  if (opts.revision !== undefined) {
    const r = await store.getRevision(project, env, opts.revision);
    if (!r) throw new UsageError(`revision ${opts.revision} not found in ${env}`);
    return [{ revision: r, steps: await store.journal(project, env, r.number) }];
  }
  const limit = opts.limit ?? 20;
  const revisions = await store.listRevisions(project, env, { limit });
  // Events newer than the oldest revision listed (all of them when every revision is listed).
  const since = revisions.length === limit ? revisions[revisions.length - 1]?.createdAt : undefined;
  const events = (await store.listEvents(project, env, { limit: EVENT_WINDOW }))
    .filter((e) => (HISTORY_EVENT_KINDS as readonly string[]).includes(e.kind))
    .filter((e) => !since || e.time >= since)
    .map((e): HistoryEvent => ({
      kind: e.kind,
      time: e.time,
      actor: typeof e.data?.actor === "string" ? e.data.actor : undefined,
      service: e.service,
      revision: e.revision,
      message: e.message,
      data: e.data,
    }));
  // Newest first, like the revisions: each event goes to the newest revision made before it.
  const entries: HistoryEntry[] = revisions.map((revision) => ({ revision }));
  for (const event of events.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))) {
    const under = entries.find((x) => x.revision.createdAt <= event.time);
    if (under) (under.events ??= []).push(event);
  }
  return entries;
}
