/**
 * The delivery worker: claims due deliveries (status=sending, owner=this notifier), sends
 * them through their channel, and records the outcome with an attempt row. A failing
 * receiver gets one request at a time and an exponential, jittered backoff; a delivery that
 * keeps failing past the give-up age, or fails for good (a 4xx), is marked failed.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { identityAlive, selfIdentity } from "../util/pid.js";
import type { Logger } from "../logger.js";
import type { Channel, DeliveryContext } from "./channel.js";
import { DeliveryError } from "./channel.js";
import type { RetryPolicy } from "./notifier-types.js";
import type { DeliveryRow } from "./outbox.js";
import { getNotification } from "./queries.js";
import type { NotifySql } from "./sql.js";

export interface WorkerContext {
  sql: NotifySql;
  log: Logger;
  now: () => number;
  retry: RetryPolicy;
  /** Parallel requests per receiver while it is healthy. */
  concurrency: number;
  channels(): ReadonlyMap<string, Channel>;
  redact(s: string): string;
  /** A request finished: wake whoever waits and pump again. */
  settled(): void;
}

/**
 * A claim by another host cannot be checked by pid; it is taken back when older than this
 * (no request lasts this long: channel timeouts are seconds).
 */
export const FOREIGN_CLAIM_MS = 10 * 60_000;

interface ReceiverState {
  failures: number;
  blockedUntil: number;
}

export class DeliveryWorker {
  /** Marks this notifier's claims, beside the process identity (host, pid, start time). */
  readonly owner = randomBytes(8).toString("hex");
  private readonly self = { host: hostname(), ...selfIdentity() };
  private readonly receivers = new Map<string, ReceiverState>();
  private readonly inflight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /**
   * Outcomes of finished requests, committed together with the next claims in one transaction.
   * The wait is one turn of the notifier's loop, so the window in which a crash loses a success
   * stays short, and a burst costs one commit per turn, not per alert.
   */
  private readonly results: ((t: NotifySql) => Promise<void>)[] = [];

  constructor(private readonly ctx: WorkerContext) {}

  /** Claims what is due for every receiver with free capacity and starts sending it. */
  async pump(): Promise<void> {
    for (const row of await this.claim()) {
      this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 0) + 1);
      const p: Promise<void> = this.deliver(row).finally(() => {
        this.running.delete(p);
        this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 1) - 1);
        this.ctx.settled();
      });
      this.running.add(p);
    }
  }

  private async claim(): Promise<DeliveryRow[]> {
    const now = this.ctx.now();
    const { host, pid, startTime } = this.self;
    return this.ctx.sql.tx(async (t) => {
      const claimed: DeliveryRow[] = [];
      for (const name of this.ctx.channels().keys()) {
        if (this.receiver(name).blockedUntil > now) continue;
        const free = this.capacity(name) - (this.inflight.get(name) ?? 0);
        if (free <= 0) continue;
        const due = await t.all<DeliveryRow>(
          `SELECT * FROM outbox_deliveries WHERE outbox = ? AND status = 'pending' AND receiver = ?
             AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
          [t.outbox, name, now, free],
        );
        for (const row of due) {
          // `AND status = 'pending'`: of two notifiers on one outbox (two daemons sharing a
          // PostgreSQL store), only one wins a row; the other's UPDATE changes nothing.
          const won = await t.run(
            `UPDATE outbox_deliveries SET status = 'sending', attempts = attempts + 1, owner = ?,
               owner_host = ?, owner_pid = ?, owner_start = ?, claimed_at = ?
               WHERE id = ? AND status = 'pending'`,
            [this.owner, host, pid, startTime ?? null, now, row.id],
          );
          if (won === 1) claimed.push({ ...row, attempts: row.attempts + 1 });
        }
      }
      return claimed;
    });
  }

  /** The earliest time a receiver with free capacity has something due (or `at`). */
  async nextDue(at: number): Promise<number> {
    for (const name of this.ctx.channels().keys()) {
      if ((this.inflight.get(name) ?? 0) >= this.capacity(name)) continue; // a completion re-pumps
      const row = await this.ctx.sql.one<{ m: number | null }>(
        `SELECT MIN(next_attempt_at) AS m FROM outbox_deliveries WHERE outbox = ? AND status = 'pending'
           AND receiver = ?`,
        [this.ctx.sql.outbox, name],
      );
      if (row?.m == null) continue;
      at = Math.min(at, Math.max(Number(row.m), this.receiver(name).blockedUntil));
    }
    return at;
  }

  /** Commits the outcomes of finished requests (kept for the next turn if the store fails). */
  async drainResults(): Promise<void> {
    if (!this.results.length) return;
    const batch = this.results.splice(0);
    try {
      await this.ctx.sql.tx(async (t) => {
        for (const r of batch) await r(t);
      });
    } catch (e) {
      this.results.unshift(...batch);
      throw e;
    }
  }

  /** Waits for the requests in flight (each bounded by its channel's timeout). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /**
   * Claims left behind go back to pending: sent again, with the same delivery id as idempotency
   * key. A claim is left behind when its claimer on this host is gone — its pid dead, or alive
   * but started at another time (the pid was reused, e.g. a daemon restarted as pid 1 in a
   * container) — or when a claimer on another host has held it past FOREIGN_CLAIM_MS.
   */
  async recoverOrphans(): Promise<void> {
    const { sql } = this.ctx;
    const now = this.ctx.now();
    const sending = await sql.all<DeliveryRow>(
      "SELECT * FROM outbox_deliveries WHERE outbox = ? AND status = 'sending'",
      [sql.outbox],
    );
    const orphans = sending.filter((r) => r.owner !== this.owner && this.stale(r, now));
    if (!orphans.length) return;
    await sql.tx(async (t) => {
      for (const o of orphans)
        await t.run(
          `UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = ?, owner = NULL
             WHERE id = ? AND status = 'sending' AND owner = ?`,
          [now, o.id, o.owner],
        );
    });
    this.ctx.log.warn("deliveries interrupted by a crash are sent again (a receiver may see one twice)", {
      count: orphans.length,
      ids: orphans.slice(0, 20).map((o) => o.id),
    });
  }

  private stale(r: DeliveryRow, now: number): boolean {
    if (r.owner_host && r.owner_host !== this.self.host)
      return r.claimed_at == null || now - Number(r.claimed_at) > FOREIGN_CLAIM_MS;
    return !identityAlive(r.owner_pid, r.owner_start);
  }

  private receiver(name: string): ReceiverState {
    let s = this.receivers.get(name);
    if (!s) this.receivers.set(name, (s = { failures: 0, blockedUntil: 0 }));
    return s;
  }

  private capacity(name: string): number {
    return this.receiver(name).failures > 0 ? 1 : this.ctx.concurrency;
  }

  private async deliver(row: DeliveryRow): Promise<void> {
    const channel = this.ctx.channels().get(row.receiver);
    const n = await getNotification(this.ctx.sql, row.notification_id).catch(() => undefined);
    const startedAt = this.ctx.now();
    const done = new Set(JSON.parse(row.done) as string[]);
    const dctx: DeliveryContext = {
      deliveryId: row.id,
      attempt: row.attempts,
      done,
      markDone: (recipient) => {
        done.add(recipient);
        // Best effort: the outcome recorded after the send carries `done` again.
        this.ctx.sql
          .run("UPDATE outbox_deliveries SET done = ? WHERE id = ?", [JSON.stringify([...done]), row.id])
          .catch((e: unknown) =>
            this.ctx.log.warn("could not record a partial delivery", { error: String(e) }),
          );
      },
    };
    try {
      if (!channel) throw new DeliveryError(`no channel "${row.receiver}" is configured`, false);
      if (!n) throw new DeliveryError(`notification ${row.notification_id} is gone`, false);
      const res = await channel.send(n, dctx);
      const detail = this.ctx.redact(res.detail);
      this.recordSuccess(row, startedAt, detail, done);
    } catch (e) {
      this.recordFailure(row, startedAt, e, done);
    }
  }

  /**
   * The outcome of a request: the receiver's state changes now, the rows change with the next
   * batch of results (the success and the "sent" mark commit together).
   */
  private recordSuccess(row: DeliveryRow, startedAt: number, detail: string, done: Set<string>): void {
    const now = this.ctx.now();
    this.results.push(async (t) => {
      await t.run(
        `UPDATE outbox_deliveries SET status = 'sent', sent_at = ?, detail = ?, last_error = NULL,
           owner = NULL, done = ? WHERE id = ?`,
        [now, detail, JSON.stringify([...done]), row.id],
      );
      await insertAttempt(t, row, startedAt, now, true, detail);
    });
    const st = this.receiver(row.receiver);
    if (st.failures > 0)
      this.ctx.log.info("receiver is back", { receiver: row.receiver, failures: st.failures });
    st.failures = 0;
    st.blockedUntil = 0;
    this.ctx.log.debug("notification delivered", { receiver: row.receiver, delivery: row.id, detail });
  }

  private recordFailure(row: DeliveryRow, startedAt: number, e: unknown, done: Set<string>): void {
    const now = this.ctx.now();
    const de = e instanceof DeliveryError ? e : undefined;
    const message = this.ctx.redact(e instanceof Error ? e.message : String(e)).slice(0, 500);
    const retryable = de ? de.retryable : true;
    if (!retryable || now - Number(row.created_at) >= this.ctx.retry.giveUpAfterMs) {
      this.giveUp(row, startedAt, now, message, retryable);
      return;
    }
    const st = this.receiver(row.receiver);
    st.failures += 1;
    const { retry } = this.ctx;
    const base = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(st.failures - 1, 30));
    // Equal jitter: half fixed, half random, so many notifiers do not retry in lockstep.
    let delay = base / 2 + Math.random() * (base / 2);
    if (de?.retryAfterS) delay = Math.max(delay, Math.min(de.retryAfterS * 1000, retry.maxMs));
    const next = now + Math.round(delay);
    st.blockedUntil = Math.max(st.blockedUntil, next);
    this.results.push(async (t) => {
      await t.run(
        `UPDATE outbox_deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?, owner = NULL,
           done = ? WHERE id = ?`,
        [next, message, JSON.stringify([...done]), row.id],
      );
      await insertAttempt(t, row, startedAt, now, false, message);
    });
    const fields = { receiver: row.receiver, delivery: row.id, error: message, retryInMs: Math.round(delay) };
    if (st.failures === 1) this.ctx.log.warn("receiver failed, retrying with backoff", fields);
    else this.ctx.log.debug("receiver still failing", fields);
  }

  private giveUp(
    row: DeliveryRow,
    startedAt: number,
    now: number,
    message: string,
    retryable: boolean,
  ): void {
    this.results.push(async (t) => {
      await t.run(
        "UPDATE outbox_deliveries SET status = 'failed', last_error = ?, owner = NULL WHERE id = ?",
        [message, row.id],
      );
      await insertAttempt(t, row, startedAt, now, false, message);
    });
    this.ctx.log.error("notification not delivered, giving up", {
      receiver: row.receiver,
      delivery: row.id,
      attempts: row.attempts,
      error: message,
      reason: retryable ? "retried for too long" : "not retryable",
    });
  }
}

function insertAttempt(
  t: NotifySql,
  row: DeliveryRow,
  startedAt: number,
  now: number,
  ok: boolean,
  detail: string,
): Promise<number> {
  return t.run(
    "INSERT INTO outbox_attempts (delivery_id, attempt, at, duration_ms, ok, detail) VALUES (?,?,?,?,?,?)",
    [row.id, row.attempts, startedAt, Math.max(0, now - startedAt), ok ? 1 : 0, detail],
  );
}
