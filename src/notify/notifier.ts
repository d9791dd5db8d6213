/**
 * The notifier: events in, notifications out, through a durable outbox.
 *
 *   emit(event) ── routing ──▶ notify_alerts (+ notify_groups)        one transaction, before emit returns
 *   group due  ── grouping, silences ──▶ notify_notifications + one notify_deliveries row per receiver
 *   worker     ── claim (status=sending) ──▶ channel.send ──▶ status=sent + attempt row, one transaction
 *
 * Exactly once per (notification, receiver) except in one window: a crash after the receiver
 * accepted a request and before the "sent" commit (microseconds: the commit follows the
 * response synchronously). Such rows are found at restart (status=sending, owner gone) and
 * sent again — at least once — with the same idempotency key (webhook X-Slipway-Delivery,
 * e-mail Message-ID, PagerDuty dedup_key) so receivers can drop the duplicate.
 *
 * This file holds the lifecycle and the scheduling; the jobs live in intake.ts, grouping.ts,
 * delivery.ts (the worker), queries.ts and silences.ts.
 */
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { AlertsConfig } from "../spec/schema-alerts.js";
import type { Channel } from "./channel.js";
import { createChannel } from "./channels.js";
import { DeliveryWorker } from "./delivery.js";
import { flushDueGroups, insertNotification } from "./grouping.js";
import type { GroupingContext, SilenceWindow } from "./grouping.js";
import { recordAlert, resolveOpen, testNotification } from "./intake.js";
import type { TestRequest } from "./intake.js";
import type {
  AttemptRecord,
  DeliveryRecord,
  EmitResult,
  ListDeliveriesOptions,
  NotifierOptions,
  NotifierStats,
  RetryPolicy,
} from "./notifier-types.js";
import { migrateNotify } from "./outbox.js";
import * as queries from "./queries.js";
import { makeRedactor } from "./redact.js";
import type { Redactor } from "./redact.js";
import { labelsOf, resolvesKind, selectRoutes } from "./routing.js";
import { MemorySilences } from "./silence-memory.js";
import { StoredSilences, silenceOf, silenceRow } from "./silences.js";
import type { Silence, SilenceInput } from "./silences.js";
import { NotifySql } from "./sql.js";
import type { AlertEvent, Notification } from "./types.js";

export type {
  AttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  EmitResult,
  ListDeliveriesOptions,
  NotifierOptions,
  NotifierStats,
  RetryPolicy,
} from "./notifier-types.js";

const HOUR = 3_600_000;

export class Notifier {
  private readonly sql: NotifySql;
  private config: AlertsConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly retry: RetryPolicy;
  private readonly retentionMs: number;
  private readonly grouping: GroupingContext;
  private readonly worker: DeliveryWorker;
  private readonly extraSecrets: string[];
  private channels = new Map<string, Channel>();
  private redact: Redactor = (s) => s;
  private readonly idleWaiters = new Set<() => void>();
  private started = false;
  private stopping = false;
  private timer?: NodeJS.Timeout;
  private wakeAt = Infinity;
  private pumpQueued = false;
  private lastPrune = 0;
  private readonly silences: StoredSilences;
  /** The silences grouping used last; kept when the store cannot be read for a while. */
  private windows: SilenceWindow[] = [];
  /** A group flush in progress (it reads the silences from the store first). */
  private flushing?: Promise<void>;

  constructor(opts: NotifierOptions) {
    this.sql = new NotifySql(opts.db);
    const { store, project, env } = opts.silences ?? {
      store: new MemorySilences(),
      project: "local",
      env: "local",
    };
    this.silences = new StoredSilences(store, project, env, opts.db);
    this.config = opts.config;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.retry = { initialMs: 1000, maxMs: 300_000, giveUpAfterMs: 24 * HOUR, ...opts.retry };
    this.retentionMs = opts.retentionMs ?? 30 * 24 * HOUR;
    this.extraSecrets = [...(opts.secrets ?? [])];
    this.grouping = {
      sql: this.sql,
      maxAlerts: Math.max(1, opts.maxAlertsPerNotification ?? 200),
      channelType: (r) => this.channels.get(r)?.type ?? "unknown",
    };
    this.worker = new DeliveryWorker({
      sql: this.sql,
      log: this.log,
      now: this.now,
      retry: this.retry,
      concurrency: Math.max(1, opts.concurrency ?? 4),
      channels: () => this.channels,
      redact: (s) => this.redact(s),
      settled: () => {
        for (const w of this.idleWaiters) w();
        this.idleWaiters.clear();
        this.schedulePump();
      },
    });
    migrateNotify(opts.db);
    this.buildChannels(opts.channels);
  }

  /** Replace the configuration (a reloaded spec). Open groups keep the routes they were made with. */
  setConfig(config: AlertsConfig, channels?: Record<string, Channel>): void {
    const old = [...this.channels.values()];
    this.config = config;
    this.buildChannels(channels);
    for (const c of old) if (!channels || !Object.values(channels).includes(c)) void c.close?.();
    this.kick();
  }

  private buildChannels(custom?: Record<string, Channel>): void {
    const map = new Map<string, Channel>();
    if (custom) for (const [n, c] of Object.entries(custom)) map.set(n, c);
    else
      for (const [n, cfg] of Object.entries(this.config.channels))
        map.set(n, createChannel(n, cfg, this.now));
    this.channels = map;
    this.redact = makeRedactor([...this.extraSecrets, ...[...map.values()].flatMap((c) => c.secrets())]);
  }

  // ── intake ────────────────────────────────────────────────────────────────────────────────

  /**
   * Accept one event. Synchronous and durable: when it returns, the alert is committed and
   * will be notified even if the process dies next.
   */
  emit(e: AlertEvent): EmitResult {
    const now = this.now();
    const event: AlertEvent = { ...e, message: this.redact(e.message) };
    if (e.data) event.data = JSON.parse(this.redact(JSON.stringify(e.data))) as Record<string, unknown>;
    const labels = labelsOf(event);
    const target = resolvesKind(event);
    if (target) {
      const resolved = resolveOpen(this.sql, event, labels, target, now);
      return { accepted: resolved > 0, routes: 0, resolved };
    }
    const routes = selectRoutes(this.config, labels);
    if (!routes.length) {
      this.log.debug("alert matches no route", { event: event.kind, severity: event.severity });
      return { accepted: false, routes: 0, resolved: 0 };
    }
    this.wake(recordAlert(this.sql, routes, event, labels, now));
    return { accepted: true, routes: routes.length, resolved: 0 };
  }

  /**
   * `slipway alerts test`: one notification per matching route's receivers, sent at once
   * (no group wait) through the outbox. An empty `receivers` means no route matches.
   */
  sendTest(opts: TestRequest): { notificationId?: number; receivers: string[] } {
    const now = this.now();
    const { notification, receivers } = testNotification(this.config, opts, now);
    if (!receivers.length) return { receivers };
    let id = 0;
    this.sql.tx(() => {
      id = insertNotification(this.grouping, notification, receivers, now, now);
    });
    this.kick();
    return { notificationId: id, receivers };
  }

  // ── silences ──────────────────────────────────────────────────────────────────────────────

  async addSilence(input: SilenceInput): Promise<Silence> {
    const now = this.now();
    const row = silenceRow(input, now);
    await this.silences.add(row);
    this.log.info("silence added", {
      id: row.id,
      author: row.author,
      until: new Date(row.ends_at).toISOString(),
    });
    return silenceOf(row, now);
  }

  /** Active and pending silences (and expired ones with `all`), newest first. */
  listSilences(opts: { all?: boolean } = {}): Promise<Silence[]> {
    return this.silences.list(this.now(), opts);
  }

  /** Ends a silence now; alerts it held back are notified at their group's next interval. */
  async expireSilence(id: string): Promise<Silence> {
    const { silence, expired } = await this.silences.expire(id, this.now());
    if (expired) this.log.info("silence expired", { id });
    this.kick();
    return silence;
  }

  // ── delivery log ──────────────────────────────────────────────────────────────────────────

  /** Newest first. Errors in the log are redacted before they are stored. */
  listDeliveries(opts: ListDeliveriesOptions = {}): DeliveryRecord[] {
    return queries.listDeliveries(this.sql, opts);
  }

  /** Every attempt of one delivery, oldest first. */
  deliveryAttempts(deliveryId: number): AttemptRecord[] {
    return queries.deliveryAttempts(this.sql, deliveryId);
  }

  /** The notification a delivery carries (what the channel was given). */
  getNotification(id: number): Notification | undefined {
    return queries.getNotification(this.sql, id);
  }

  stats(): NotifierStats {
    return queries.stats(this.sql);
  }

  /** Drops finished alerts, notifications, deliveries and expired silences past retention. */
  prune(): void {
    const now = this.now();
    this.lastPrune = now;
    queries.prune(this.sql, now - this.retentionMs);
    this.silences.prune(now - this.retentionMs).catch((e: unknown) => {
      this.log.warn("could not prune old silences", { error: (e as Error).message });
    });
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────

  /** Recover what a previous process left (claimed deliveries whose owner is gone) and start working. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.worker.recoverOrphans();
    const unknown = this.sql
      .q("SELECT DISTINCT receiver FROM notify_deliveries WHERE status = 'pending'")
      .all() as { receiver: string }[];
    for (const { receiver } of unknown)
      if (!this.channels.has(receiver))
        this.log.warn("deliveries wait for a channel that is not configured", { receiver });
    this.prune();
    this.kick();
  }

  /** Stop timers and wait for in-flight requests (each bounded by its channel timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = Infinity;
    await this.flushing;
    await this.worker.idle();
    this.worker.drainResults();
    await Promise.allSettled([...this.channels.values()].map((c) => c.close?.()));
  }

  /**
   * Notify open groups now (ignoring groupWait/groupInterval) and wait until the outbox is
   * empty or `timeoutMs` passes. Resolves with what is still queued.
   */
  async flush(opts: { timeoutMs?: number; groups?: boolean } = {}): Promise<NotifierStats> {
    if (opts.groups !== false) {
      this.sql
        .q("UPDATE notify_groups SET next_flush_at = ? WHERE next_flush_at > ?")
        .run(this.now(), this.now());
    }
    const wasStarted = this.started;
    if (!wasStarted) this.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    this.tick();
    for (;;) {
      const s = this.stats();
      const groupsDone = opts.groups === false || queries.dueGroups(this.sql, this.now()) === 0;
      if ((s.pending === 0 && s.sending === 0 && groupsDone) || Date.now() >= deadline) {
        if (!wasStarted) await this.stop();
        return s;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.idleWaiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  // ── scheduling ────────────────────────────────────────────────────────────────────────────

  private kick(): void {
    this.wake(this.now());
  }

  private wake(at: number): void {
    if (!this.started || this.stopping) return;
    if (at >= this.wakeAt) return;
    this.wakeAt = at;
    if (this.timer) clearTimeout(this.timer);
    const t = setTimeout(() => this.tick(), Math.max(0, at - this.now()));
    t.unref?.();
    this.timer = t;
  }

  private tick(): void {
    if (!this.started || this.stopping) return;
    this.wakeAt = Infinity;
    this.timer = undefined;
    try {
      this.worker.drainResults();
      if (queries.dueGroups(this.sql, this.now()) > 0) this.flushGroups();
      this.worker.pump();
      if (this.now() - this.lastPrune > HOUR) this.prune();
    } catch (e) {
      this.log.error("notifier tick failed", { error: this.redact(String(e)) });
    }
    this.wake(this.nextWake());
  }

  /**
   * Due groups become notifications once the store has told which silences are active. A
   * store that cannot be read does not hold alerts back: the silences read last apply.
   */
  private flushGroups(): void {
    if (this.flushing) return;
    const run = async () => {
      try {
        this.windows = await this.silences.active(this.now());
      } catch (e) {
        this.log.warn("could not read silences from the store; using the ones read last", {
          error: this.redact(String(e)),
        });
      }
      if (!this.started || this.stopping) return;
      flushDueGroups(this.grouping, this.now, this.windows);
      this.worker.pump();
    };
    this.flushing = run()
      .catch((e: unknown) => this.log.error("notifier group flush failed", { error: this.redact(String(e)) }))
      .finally(() => {
        this.flushing = undefined;
        this.wake(this.nextWake());
      });
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.tick();
    });
  }

  private nextWake(): number {
    const now = this.now();
    let at = now + 5000; // a slow safety poll; precise wake-ups come from below
    // While a flush reads the silences, its end wakes the notifier again.
    const g = this.flushing ? null : queries.nextGroupFlush(this.sql);
    if (g != null) at = Math.min(at, g);
    return Math.max(this.worker.nextDue(at), now);
  }
}
