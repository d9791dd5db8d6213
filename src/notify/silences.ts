/**
 * Silences: label matchers with a time window, an author and a comment (Alertmanager's model).
 * They live in the store (store/records.ts), one list per environment, so that a shared
 * PostgreSQL store holds them for every daemon; grouping reads them from there.
 */
import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import { parseDuration } from "../util/units.js";
import type { RecordStore, SilenceRecord } from "../store/records.js";
import type Database from "better-sqlite3";
import type { SilenceRow } from "./outbox.js";
import type { Matchers } from "./routing.js";

export interface SilenceInput {
  /** label → value (or list of values; "!x" excludes x). At least one matcher. */
  matchers: Record<string, string | string[]>;
  /** Default: now. A Date, epoch ms, or ISO text. */
  startsAt?: Date | number | string;
  /** Either endsAt or duration (ms, or text like "2h"). */
  endsAt?: Date | number | string;
  duration?: number | string;
  author: string;
  comment: string;
}

export interface Silence {
  id: string;
  matchers: Matchers;
  startsAt: string;
  endsAt: string;
  author: string;
  comment: string;
  createdAt: string;
  state: "pending" | "active" | "expired";
}

function toMs(v: Date | number | string, what: string): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === "number" ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`silence: ${what} "${String(v)}" is not a valid time`);
  return ms;
}

/** Checks a silence request and turns it into a row; errors name the field that is wrong. */
export function silenceRow(input: SilenceInput, now: number): SilenceRow {
  const matchers: Matchers = {};
  for (const [k, v] of Object.entries(input.matchers ?? {})) {
    const values = (Array.isArray(v) ? v : [v]).map(String).filter((x) => x !== "");
    if (!k.trim()) throw new UsageError("silence: a matcher has an empty label name");
    if (!values.length) throw new UsageError(`silence: matcher "${k}" has no value`);
    matchers[k] = values;
  }
  if (!Object.keys(matchers).length)
    throw new UsageError("silence: give at least one matcher, e.g. service=api or severity=warning");
  if (!input.author?.trim()) throw new UsageError("silence: an author is required (who is silencing)");
  if (!input.comment?.trim()) throw new UsageError("silence: a comment is required (why it is silenced)");
  const startsAt = input.startsAt === undefined ? now : toMs(input.startsAt, "startsAt");
  let endsAt: number;
  if (input.endsAt !== undefined) endsAt = toMs(input.endsAt, "endsAt");
  else if (input.duration !== undefined) {
    const d = typeof input.duration === "number" ? input.duration : parseDuration(input.duration);
    if (d === undefined || d <= 0)
      throw new UsageError(`silence: duration "${String(input.duration)}" is not a duration like 2h`);
    endsAt = startsAt + d;
  } else throw new UsageError("silence: give an end time or a duration (e.g. 2h)");
  if (endsAt <= startsAt) throw new UsageError("silence: the end must be after the start");
  if (endsAt <= now) throw new UsageError("silence: the end is in the past");
  return {
    id: `sil-${randomBytes(6).toString("hex")}`,
    matchers: JSON.stringify(matchers),
    starts_at: startsAt,
    ends_at: endsAt,
    author: input.author.trim(),
    comment: input.comment.trim(),
    created_at: now,
  };
}

export function silenceOf(r: SilenceRow, now: number): Silence {
  return {
    id: r.id,
    matchers: JSON.parse(r.matchers) as Matchers,
    startsAt: new Date(r.starts_at).toISOString(),
    endsAt: new Date(r.ends_at).toISOString(),
    author: r.author,
    comment: r.comment,
    createdAt: new Date(r.created_at).toISOString(),
    state: r.starts_at > now ? "pending" : r.ends_at <= now ? "expired" : "active",
  };
}

/** The part of the store a notifier uses for silences. */
export type SilenceStore = Pick<
  RecordStore,
  "addSilence" | "getSilence" | "listSilences" | "setSilenceEnd" | "pruneSilences"
>;

/** The silences of one environment in the store. */
export class StoredSilences {
  constructor(
    private readonly store: SilenceStore,
    readonly project: string,
    readonly env: string,
  ) {}

  async add(row: SilenceRow): Promise<void> {
    await this.store.addSilence(recordOf(row, this.project, this.env));
  }

  /** Active and pending silences (and expired ones with `all`), newest first. */
  async list(now: number, opts: { all?: boolean } = {}): Promise<Silence[]> {
    const recs = await this.store.listSilences(
      this.project,
      this.env,
      opts.all ? {} : { endsAfter: new Date(now).toISOString() },
    );
    return recs.map((r) => silenceOf(rowOf(r), now));
  }

  /** Silences active at `now`, as grouping matches them. */
  async active(now: number): Promise<{ id: string; m: Matchers; startsAt: number; endsAt: number }[]> {
    const recs = await this.store.listSilences(this.project, this.env, {
      endsAfter: new Date(now).toISOString(),
    });
    return recs.map((r) => ({
      id: r.id,
      m: r.matchers,
      startsAt: Date.parse(r.startsAt),
      endsAt: Date.parse(r.endsAt),
    }));
  }

  /** Ends a silence now (a pending one at its start); `expired` tells whether it changed. */
  async expire(id: string, now: number): Promise<{ silence: Silence; expired: boolean }> {
    const rec = await this.store.getSilence(this.project, this.env, id);
    if (!rec) {
      const ids = (await this.list(now)).map((s) => s.id);
      throw new UsageError(`no silence "${id}"${ids.length ? ` (active: ${ids.join(", ")})` : ""}`);
    }
    const row = rowOf(rec);
    const expired = row.ends_at > now;
    if (expired) {
      row.ends_at = Math.max(now, row.starts_at);
      await this.store.setSilenceEnd(this.project, this.env, id, new Date(row.ends_at).toISOString());
    }
    return { silence: silenceOf(row, now), expired };
  }

  async prune(cutoff: number): Promise<void> {
    await this.store.pruneSilences(new Date(cutoff).toISOString());
  }
}

const IMPORTED_KEY = "silences_imported_at";

/**
 * An earlier Slipway kept silences in the environment's outbox file (notify_silences). They
 * are copied into the store (silences already there win) and the file is marked, never
 * emptied, so the import runs once and the old rows stay readable.
 */
export async function importLegacySilences(
  store: SilenceStore,
  project: string,
  env: string,
  db: Database.Database | undefined,
): Promise<number> {
  if (!db) return 0;
  const has = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_silences'")
    .get();
  if (!has) return 0;
  db.exec("CREATE TABLE IF NOT EXISTS notify_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  if (db.prepare("SELECT 1 FROM notify_meta WHERE key = ?").get(IMPORTED_KEY)) return 0;
  const rows = db.prepare("SELECT * FROM notify_silences ORDER BY created_at").all() as SilenceRow[];
  let n = 0;
  for (const row of rows) {
    if (await store.getSilence(project, env, row.id)) continue;
    await store.addSilence(recordOf(row, project, env));
    n++;
  }
  db.prepare("INSERT OR REPLACE INTO notify_meta (key, value) VALUES (?, ?)").run(
    IMPORTED_KEY,
    new Date().toISOString(),
  );
  return n;
}

function recordOf(row: SilenceRow, project: string, env: string): SilenceRecord {
  return {
    id: row.id,
    project,
    env,
    matchers: JSON.parse(row.matchers) as Record<string, string[]>,
    startsAt: new Date(row.starts_at).toISOString(),
    endsAt: new Date(row.ends_at).toISOString(),
    author: row.author,
    comment: row.comment,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

function rowOf(r: SilenceRecord): SilenceRow {
  return {
    id: r.id,
    matchers: JSON.stringify(r.matchers),
    starts_at: Date.parse(r.startsAt),
    ends_at: Date.parse(r.endsAt),
    author: r.author,
    comment: r.comment,
    created_at: Date.parse(r.createdAt),
  };
}
