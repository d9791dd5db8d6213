/** Silences: label matchers with a time window, an author and a comment (Alertmanager's model). */
import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import { parseDuration } from "../util/units.js";
import type { SilenceRow } from "./outbox.js";
import type { Matchers } from "./routing.js";
import type { NotifySql } from "./sql.js";

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

// ── the notify_silences table ─────────────────────────────────────────────────────────────

export function insertSilence(sql: NotifySql, row: SilenceRow): void {
  sql
    .q(
      `INSERT INTO notify_silences (id, matchers, starts_at, ends_at, author, comment, created_at)
         VALUES (@id, @matchers, @starts_at, @ends_at, @author, @comment, @created_at)`,
    )
    .run(row);
}

/** Active and pending silences (and expired ones with `all`), newest first. */
export function listSilences(sql: NotifySql, now: number, opts: { all?: boolean } = {}): Silence[] {
  const rows = (
    opts.all
      ? sql.q("SELECT * FROM notify_silences ORDER BY created_at DESC").all()
      : sql.q("SELECT * FROM notify_silences WHERE ends_at > ? ORDER BY created_at DESC").all(now)
  ) as SilenceRow[];
  return rows.map((r) => silenceOf(r, now));
}

/** Ends a silence now (a pending one at its start); `expired` tells whether it changed. */
export function expireSilence(
  sql: NotifySql,
  id: string,
  now: number,
): { silence: Silence; expired: boolean } {
  const row = sql.q("SELECT * FROM notify_silences WHERE id = ?").get(id) as SilenceRow | undefined;
  if (!row) {
    const ids = listSilences(sql, now).map((s) => s.id);
    throw new UsageError(`no silence "${id}"${ids.length ? ` (active: ${ids.join(", ")})` : ""}`);
  }
  const expired = row.ends_at > now;
  if (expired) {
    row.ends_at = Math.max(now, row.starts_at);
    sql.q("UPDATE notify_silences SET ends_at = ? WHERE id = ?").run(row.ends_at, id);
  }
  return { silence: silenceOf(row, now), expired };
}
