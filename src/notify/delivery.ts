/**
 * The delivery worker: claims due deliveries (status=sending, owner=this process), sends
 * them through their channel, and records the outcome with an attempt row. A failing
 * receiver gets one request at a time and an exponential, jittered backoff; a delivery that
 * keeps failing past the give-up age, or fails for good (a 4xx), is marked failed.
 */
import { randomBytes } from "node:crypto";
import { pidAlive } from "../util/pid.js";
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

interface ReceiverState {
  failures: number;
  blockedUntil: number;
}

export class DeliveryWorker {
  /** Marks this process's claims, so a restart can tell its own from a dead owner's. */
  readonly owner = randomBytes(8).toString("hex");
  private readonly receivers = new Map<string, ReceiverState>();
  private readonly inflight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /**
   * Outcomes of finished requests, committed together with the next claims in one transaction.
   * The wait is one event-loop turn (setImmediate), so the window in which a crash loses a
   * success stays well under a millisecond, and a burst costs one commit per turn, not per alert.
   */
  private readonly results: (() => void)[] = [];

  constructor(private readonly ctx: WorkerContext) {}

  /** Claims what is due for every receiver with free capacity and starts sending it. */
  pump(): void {
    for (const row of this.claim()) {
      this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 0) + 1);
      const p: Promise<void> = this.deliver(row).finally(() => {
        this.running.delete(p);
        this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 1) - 1);
        this.ctx.settled();
      });
      this.running.add(p);
    }
  }

  private claim(): DeliveryRow[] {
    const { sql } = this.ctx;
    const now = this.ctx.now();
    const due = sql.q(
      `SELECT * FROM notify_deliveries WHERE status = 'pending' AND receiver = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ?`,
    );
    // `AND status = 'pending'`: of two notifiers on one outbox, only one wins a row.
    const claim = sql.q(
      `UPDATE notify_deliveries SET status = 'sending', attempts = attempts + 1, owner = ?, owner_pid = ?
       WHERE id = ? AND status = 'pending'`,
    );
    const claimed: DeliveryRow[] = [];
    sql.tx(() => {
      for (const name of this.ctx.channels().keys()) {
        if (this.receiver(name).blockedUntil > now) continue;
        const free = this.capacity(name) - (this.inflight.get(name) ?? 0);
        if (free <= 0) continue;
        for (const row of due.all(name, now, free) as DeliveryRow[]) {
          if (claim.run(this.owner, process.pid, row.id).changes === 1) {
            row.attempts += 1;
            claimed.push(row);
          }
        }
      }
    });
    return claimed;
  }

  /** The earliest time a receiver with free capacity has something due (or `at`). */
  nextDue(at: number): number {
    const minDue = this.ctx.sql.q(
      "SELECT MIN(next_attempt_at) AS m FROM notify_deliveries WHERE status = 'pending' AND receiver = ?",
    );
    for (const name of this.ctx.channels().keys()) {
      if ((this.inflight.get(name) ?? 0) >= this.capacity(name)) continue; // a completion re-pumps
      const m = (minDue.get(name) as { m: number | null }).m;
      if (m == null) continue;
      at = Math.min(at, Math.max(m, this.receiver(name).blockedUntil));
    }
    return at;
  }

  drainResults(): void {
    if (!this.results.length) return;
    this.ctx.sql.tx(() => {
      for (const r of this.results.splice(0)) r();
    });
  }

  /** Waits for the requests in flight (each bounded by its channel's timeout). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /**
   * Claims a dead process left behind (status=sending, owner gone) go back to pending: sent
   * again, with the same delivery id as idempotency key.
   */
  recoverOrphans(): void {
    const { sql } = this.ctx;
    const orphans = (
      sql.q("SELECT id, owner_pid, owner FROM notify_deliveries WHERE status = 'sending'").all() as Pick<
        DeliveryRow,
        "id" | "owner_pid" | "owner"
      >[]
    ).filter((r) => r.owner !== this.owner && !pidAlive(r.owner_pid));
    if (!orphans.length) return;
    const reset = sql.q(
      "UPDATE notify_deliveries SET status = 'pending', next_attempt_at = ?, owner = NULL WHERE id = ? AND status = 'sending'",
    );
    const now = this.ctx.now();
    sql.tx(() => {
      for (const o of orphans) reset.run(now, o.id);
    });
    this.ctx.log.warn("deliveries interrupted by a crash are sent again (a receiver may see one twice)", {
      count: orphans.length,
      ids: orphans.slice(0, 20).map((o) => o.id),
    });
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
    const n = getNotification(this.ctx.sql, row.notification_id);
    const startedAt = this.ctx.now();
    const done = new Set(JSON.parse(row.done) as string[]);
    const dctx: DeliveryContext = {
      deliveryId: row.id,
      attempt: row.attempts,
      done,
      markDone: (recipient) => {
        done.add(recipient);
        this.ctx.sql
          .q("UPDATE notify_deliveries SET done = ? WHERE id = ?")
          .run(JSON.stringify([...done]), row.id);
      },
    };
    try {
      if (!channel) throw new DeliveryError(`no channel "${row.receiver}" is configured`, false);
      if (!n) throw new DeliveryError(`notification ${row.notification_id} is gone`, false);
      const res = await channel.send(n, dctx);
      const detail = this.ctx.redact(res.detail);
      this.results.push(() => this.recordSuccess(row, startedAt, detail));
    } catch (e) {
      this.results.push(() => this.recordFailure(row, startedAt, e));
    }
  }

  private recordSuccess(row: DeliveryRow, startedAt: number, detail: string): void {
    const now = this.ctx.now();
    // The success and the "sent" mark commit together, right after the response.
    this.ctx.sql.tx(() => {
      this.ctx.sql
        .q(
          `UPDATE notify_deliveries SET status = 'sent', sent_at = ?, detail = ?, last_error = NULL, owner = NULL
             WHERE id = ?`,
        )
        .run(now, detail, row.id);
      this.insertAttempt(row, startedAt, now, true, detail);
    });
    const st = this.receiver(row.receiver);
    if (st.failures > 0)
      this.ctx.log.info("receiver is back", { receiver: row.receiver, failures: st.failures });
    st.failures = 0;
    st.blockedUntil = 0;
    this.ctx.log.debug("notification delivered", { receiver: row.receiver, delivery: row.id, detail });
  }

  private recordFailure(row: DeliveryRow, startedAt: number, e: unknown): void {
    const now = this.ctx.now();
    const de = e instanceof DeliveryError ? e : undefined;
    const message = this.ctx.redact(e instanceof Error ? e.message : String(e)).slice(0, 500);
    const retryable = de ? de.retryable : true;
    if (!retryable || now - row.created_at >= this.ctx.retry.giveUpAfterMs) {
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
    this.ctx.sql.tx(() => {
      this.ctx.sql
        .q(
          "UPDATE notify_deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?, owner = NULL WHERE id = ?",
        )
        .run(next, message, row.id);
      this.insertAttempt(row, startedAt, now, false, message);
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
    this.ctx.sql.tx(() => {
      this.ctx.sql
        .q("UPDATE notify_deliveries SET status = 'failed', last_error = ?, owner = NULL WHERE id = ?")
        .run(message, row.id);
      this.insertAttempt(row, startedAt, now, false, message);
    });
    this.ctx.log.error("notification not delivered, giving up", {
      receiver: row.receiver,
      delivery: row.id,
      attempts: row.attempts,
      error: message,
      reason: retryable ? "retried for too long" : "not retryable",
    });
  }

  private insertAttempt(row: DeliveryRow, startedAt: number, now: number, ok: boolean, detail: string): void {
    this.ctx.sql
      .q(
        "INSERT INTO notify_attempts (delivery_id, attempt, at, duration_ms, ok, detail) VALUES (?,?,?,?,?,?)",
      )
      .run(row.id, row.attempts, startedAt, Math.max(0, now - startedAt), ok ? 1 : 0, detail);
  }
}
