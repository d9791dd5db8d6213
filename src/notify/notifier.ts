/**
 * The notifier: events in, notifications out, through a durable outbox in the store.
 *
 *   emit(event) ── routing ──▶ outbox_alerts (+ outbox_groups)        one transaction, before emit resolves
 *   group due  ── grouping, silences ──▶ outbox_notifications + one outbox_deliveries row per receiver
 *   worker     ── claim (status=sending) ──▶ channel.send ──▶ status=sent + attempt row, one transaction
 *
 * Exactly once per (notification, receiver) except in one window: a crash after the receiver
 * accepted a request and before the "sent" commit (microseconds: the commit follows the
 * response at the next turn). Such rows are found at restart (status=sending, claimer gone) and
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
import { outboxId } from "./outbox.js";
import { isUnreachable } from "../store/sql.js";
import * as queries from "./queries.js";
import { TurnLoop } from "./loop.js";
import { makeRedactor } from "../util/redact.js";
import type { Redactor } from "../util/redact.js";
import { labelsOf, resolvesKind, selectRoutes } from "./routing.js";
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
  NotifyStore,
  RetryPolicy,
} from "./notifier-types.js";

const HOUR = 3_600_000;

export class Notifier {
  private sql?: NotifySql;
  private opening?: Promise<NotifySql>;
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
  private readonly loop: TurnLoop;
  private lastPrune = 0;
  private readonly silences: StoredSilences;
  /** The silences grouping used last; kept when the store cannot be read for a while. */
  private windows: SilenceWindow[] = [];
  /** Emits run one after the other, so a resolution never overtakes what it resolves. */
  private intake: Promise<unknown> = Promise.resolve();
  private booting?: Promise<void>;
  private storeDown = false;

  constructor(private readonly opts: NotifierOptions) {
    this.silences = new StoredSilences(opts.silences ?? opts.store, opts.project, opts.env);
    this.config = opts.config;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.retry = { initialMs: 1000, maxMs: 300_000, giveUpAfterMs: 24 * HOUR, ...opts.retry };
    this.retentionMs = opts.retentionMs ?? 30 * 24 * HOUR;
    this.extraSecrets = [...(opts.secrets ?? [])];
    this.loop = new TurnLoop(() => this.turn(), this.now);
    const opened = () => this.opened();
    this.grouping = {
      get sql() {
        return opened();
      },
      maxAlerts: Math.max(1, opts.maxAlertsPerNotification ?? 200),
      channelType: (r) => this.channels.get(r)?.type ?? "unknown",
    };
    this.worker = new DeliveryWorker({
      get sql() {
        return opened();
      },
      log: this.log,
      now: this.now,
      retry: this.retry,
      concurrency: Math.max(1, opts.concurrency ?? 4),
      channels: () => this.channels,
      redact: (s) => this.redact(s),
      settled: () => {
        for (const w of this.idleWaiters) w();
        this.idleWaiters.clear();
        this.loop.soon();
      },
    });
    this.buildChannels(opts.channels);
  }

  /** This environment's outbox in the store (created on first use; retried after a failure). */
  private ready(): Promise<NotifySql> {
    if (this.sql) return Promise.resolve(this.sql);
    const { store, project, env } = this.opts;
    this.opening ??= outboxId(store.outbox, project, env).then(
      (id) => (this.sql = new NotifySql(store.outbox, id)),
      (e: unknown) => {
        this.opening = undefined;
        throw e;
      },
    );
    return this.opening;
  }

  private opened(): NotifySql {
    if (!this.sql) throw new Error("the notifier's outbox is not open yet");
    return this.sql;
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
   * Accept one event. Durable: when the promise resolves, the alert is committed in the store
   * and will be notified even if the process dies next. It rejects when the store cannot be
   * written (the hub then spools the event, spool.ts).
   */
  emit(e: AlertEvent): Promise<EmitResult> {
    const run = this.intake.then(() => this.record(e));
    this.intake = run.catch(() => undefined);
    return run;
  }

  private async record(e: AlertEvent): Promise<EmitResult> {
    const now = this.now();
    const event: AlertEvent = { ...e, message: this.redact(e.message) };
    if (e.data) event.data = JSON.parse(this.redact(JSON.stringify(e.data))) as Record<string, unknown>;
    const labels = labelsOf(event);
    const target = resolvesKind(event);
    if (target) {
      const resolved = await resolveOpen(await this.ready(), event, labels, target, now);
      return { accepted: resolved > 0, routes: 0, resolved };
    }
    const routes = selectRoutes(this.config, labels);
    if (!routes.length) {
      this.log.debug("alert matches no route", { event: event.kind, severity: event.severity });
      return { accepted: false, routes: 0, resolved: 0 };
    }
    this.loop.wake(await recordAlert(await this.ready(), routes, event, labels, now));
    return { accepted: true, routes: routes.length, resolved: 0 };
  }

  /**
   * `slipway alerts test`: one notification per matching route's receivers, sent at once
   * (no group wait) through the outbox. An empty `receivers` means no route matches.
   */
  async sendTest(opts: TestRequest): Promise<{ notificationId?: number; receivers: string[] }> {
    const now = this.now();
    const { notification, receivers } = testNotification(this.config, opts, now);
    if (!receivers.length) return { receivers };
    const sql = await this.ready();
    const id = await sql.tx((t) => insertNotification(this.grouping, t, notification, receivers, now, now));
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
  async listDeliveries(opts: ListDeliveriesOptions = {}): Promise<DeliveryRecord[]> {
    return queries.listDeliveries(await this.ready(), opts);
  }

  /** Every attempt of one delivery, oldest first. */
  async deliveryAttempts(deliveryId: number): Promise<AttemptRecord[]> {
    return queries.deliveryAttempts(await this.ready(), deliveryId);
  }

  /** The notification a delivery carries (what the channel was given). */
  async getNotification(id: number): Promise<Notification | undefined> {
    return queries.getNotification(await this.ready(), id);
  }

  async stats(): Promise<NotifierStats> {
    return queries.stats(await this.ready());
  }

  /** Drops finished alerts, notifications, deliveries and expired silences past retention. */
  async prune(): Promise<void> {
    const now = this.now();
    this.lastPrune = now;
    await queries.prune(await this.ready(), now - this.retentionMs);
    this.silences.prune(now - this.retentionMs).catch((e: unknown) => {
      this.log.warn("could not prune old silences", { error: (e as Error).message });
    });
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────

  /** Recover what a previous process left (claims whose claimer is gone) and start working. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop.start();
    this.booting = this.boot().catch((e: unknown) => this.storeFailed("notifier start", e));
  }

  private async boot(): Promise<void> {
    const sql = await this.ready();
    await this.worker.recoverOrphans();
    const unknown = await sql.all<{ receiver: string }>(
      "SELECT DISTINCT receiver FROM outbox_deliveries WHERE outbox = ? AND status = 'pending'",
      [sql.outbox],
    );
    for (const { receiver } of unknown)
      if (!this.channels.has(receiver))
        this.log.warn("deliveries wait for a channel that is not configured", { receiver });
    await this.prune();
    this.kick();
  }

  /** Stop timers and wait for in-flight requests (each bounded by its channel timeout). */
  async stop(): Promise<void> {
    this.started = false;
    await this.loop.stop();
    await this.booting;
    await this.intake;
    await this.worker.idle();
    await this.worker.drainResults().catch((e: unknown) => this.storeFailed("recording deliveries", e));
    await Promise.allSettled([...this.channels.values()].map((c) => c.close?.()));
  }

  /**
   * Notify open groups now (ignoring groupWait/groupInterval) and wait until the outbox is
   * empty or `timeoutMs` passes. Resolves with what is still queued.
   */
  async flush(opts: { timeoutMs?: number; groups?: boolean } = {}): Promise<NotifierStats> {
    await this.intake;
    const sql = await this.ready();
    if (opts.groups !== false) {
      const now = this.now();
      await sql.run("UPDATE outbox_groups SET next_flush_at = ? WHERE outbox = ? AND next_flush_at > ?", [
        now,
        sql.outbox,
        now,
      ]);
    }
    const wasStarted = this.started;
    if (!wasStarted) this.start();
    await this.booting;
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      this.loop.tick();
      await this.loop.current;
      const s = await this.stats();
      const groupsDone = opts.groups === false || (await queries.dueGroups(sql, this.now())) === 0;
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
    this.loop.wake(this.now());
  }

  /** One turn: commit finished requests, flush due groups, claim and send; when to come back. */
  private async turn(): Promise<number> {
    try {
      const sql = await this.ready();
      await this.worker.drainResults();
      if ((await queries.dueGroups(sql, this.now())) > 0) await this.flushGroups();
      await this.worker.pump();
      if (this.now() - this.lastPrune > HOUR) await this.prune();
      const next = await this.nextWake(sql);
      this.storeDown = false;
      return next;
    } catch (e) {
      this.storeFailed("notifier turn", e);
      return this.now() + 1000; // the store is back soon, or the next turn says so again
    }
  }

  /** Logged as an error once per outage (then at debug level: a turn retries every second). */
  private storeFailed(what: string, e: unknown): void {
    const unreachable = isUnreachable(e);
    const log = unreachable && this.storeDown ? this.log.debug : this.log.error;
    log.call(this.log, `${what} failed`, { error: this.redact(String(e)) });
    this.storeDown = unreachable;
    if (unreachable) this.opts.onStoreError?.(e);
  }

  /**
   * Due groups become notifications once the store has told which silences are active. A
   * silence store that cannot be read does not hold alerts back: the silences read last apply.
   */
  private async flushGroups(): Promise<void> {
    try {
      this.windows = await this.silences.active(this.now());
    } catch (e) {
      this.log.warn("could not read silences from the store; using the ones read last", {
        error: this.redact(String(e)),
      });
    }
    if (!this.loop.active) return;
    await flushDueGroups(this.grouping, this.now, this.windows);
  }

  private async nextWake(sql: NotifySql): Promise<number> {
    const now = this.now();
    let at = now + 5000; // a slow safety poll; precise wake-ups come from below
    const g = await queries.nextGroupFlush(sql);
    if (g != null) at = Math.min(at, g);
    return Math.max(await this.worker.nextDue(at), now);
  }
}
