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
 */
import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { AlertsConfig } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext } from "./channel.js";
import { DeliveryError } from "./channel.js";
import { createChannel } from "./channels.js";
import type { AlertRow, Db, DeliveryRow, GroupRow, SilenceRow, Statement } from "./outbox.js";
import { migrateNotify } from "./outbox.js";
import { makeRedactor } from "./redact.js";
import type { Redactor } from "./redact.js";
import { title } from "./render.js";
import {
  commonLabelsOf,
  fingerprintOf,
  groupKeyOf,
  groupLabelsOf,
  isStateful,
  labelsOf,
  matches,
  resolvesKind,
  selectRoutes,
} from "./routing.js";
import type { Matchers } from "./routing.js";
import { silenceOf, silenceRow } from "./silences.js";
import type { Silence, SilenceInput } from "./silences.js";
import type { AlertEvent, AlertView, Labels, Notification, Severity } from "./types.js";

export interface RetryPolicy {
  /** First delay after a failure (default 1s); doubles per consecutive failure of the receiver. */
  initialMs: number;
  /** Longest delay between attempts (default 5m). */
  maxMs: number;
  /** A delivery still failing this long after it was queued is marked failed (default 24h). */
  giveUpAfterMs: number;
}

export interface NotifierOptions {
  /** A better-sqlite3 handle; the notifier creates its notify_ tables in it. */
  db: Db;
  config: AlertsConfig;
  logger?: Logger;
  /** Clock (ms since epoch); timers still run on real time. */
  now?: () => number;
  /** Values that must never be stored or logged (e.g. the resolved spec's secrets). */
  secrets?: Iterable<string>;
  retry?: Partial<RetryPolicy>;
  /** Parallel requests per receiver (default 4; 1 while the receiver is failing). */
  concurrency?: number;
  /** Channels by name instead of building them from config.channels (custom channels). */
  channels?: Record<string, Channel>;
  /** Finished alerts and notifications older than this are pruned (default 30d). */
  retentionMs?: number;
  /** Alerts listed in one notification at most (the rest are counted). Default 200. */
  maxAlertsPerNotification?: number;
}

export interface EmitResult {
  /** The event was stored (it will be notified, or it resolved an open alert). */
  accepted: boolean;
  /** Routes the alert joined. */
  routes: number;
  /** Open alerts this event resolved. */
  resolved: number;
}

export type DeliveryStatus = DeliveryRow["status"];

export interface DeliveryRecord {
  id: number;
  notificationId: number;
  receiver: string;
  channelType: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  sentAt?: string;
  nextAttemptAt?: string;
  lastError?: string;
  detail?: string;
  title: string;
  notificationStatus: "firing" | "resolved";
  project?: string;
  environment?: string;
  test: boolean;
}

export interface AttemptRecord {
  attempt: number;
  at: string;
  durationMs: number;
  ok: boolean;
  detail: string;
}

export interface ListDeliveriesOptions {
  limit?: number;
  status?: DeliveryStatus;
  receiver?: string;
  project?: string;
  env?: string;
  /** Page backwards: deliveries with a smaller id. */
  beforeId?: number;
}

export interface NotifierStats {
  pending: number;
  sending: number;
  sent: number;
  failed: number;
  openGroups: number;
  firingAlerts: number;
}

interface ReceiverState {
  failures: number;
  blockedUntil: number;
}

const ACTIVE = "('firing','resolved')";

export class Notifier {
  private readonly db: Db;
  private config: AlertsConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly retry: RetryPolicy;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  private readonly maxAlerts: number;
  private readonly owner = randomBytes(8).toString("hex");
  private readonly extraSecrets: string[];
  private channels = new Map<string, Channel>();
  private redact: Redactor = (s) => s;
  private readonly receivers = new Map<string, ReceiverState>();
  private readonly inflight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly idleWaiters = new Set<() => void>();
  private started = false;
  private stopping = false;
  private timer?: NodeJS.Timeout;
  private wakeAt = Infinity;
  private pumpQueued = false;
  private lastPrune = 0;

  constructor(opts: NotifierOptions) {
    this.db = opts.db;
    this.config = opts.config;
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.retry = { initialMs: 1000, maxMs: 300_000, giveUpAfterMs: 24 * 3_600_000, ...opts.retry };
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.retentionMs = opts.retentionMs ?? 30 * 86_400_000;
    this.maxAlerts = Math.max(1, opts.maxAlertsPerNotification ?? 200);
    this.extraSecrets = [...(opts.secrets ?? [])];
    migrateNotify(this.db);
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
      // Extra labels narrow what is resolved (one certificate of several, one check).
      const extra = Object.entries(labels).filter(([k]) => !["event", "severity"].includes(k));
      const open = this.q(
        `SELECT id, labels FROM notify_alerts WHERE project = ? AND environment = ?
           AND service = ? AND event = ? AND status = 'firing'`,
      ).all(event.project, event.env, event.service ?? "", target) as Pick<AlertRow, "id" | "labels">[];
      const update = this.q(`UPDATE notify_alerts SET status = 'resolved', ends_at = ? WHERE id = ?`);
      let resolved = 0;
      for (const a of open) {
        const l = JSON.parse(a.labels) as Labels;
        if (extra.every(([k, v]) => l[k] === v)) resolved += update.run(now, a.id).changes;
      }
      return { accepted: resolved > 0, routes: 0, resolved };
    }
    const routes = selectRoutes(this.config, labels);
    if (!routes.length) {
      this.log.debug("alert matches no route", { event: event.kind, severity: event.severity });
      return { accepted: false, routes: 0, resolved: 0 };
    }
    const startsAt = (event.time && Date.parse(event.time)) || now;
    const stateful = isStateful(event);
    const fp = fingerprintOf(labels);
    let earliest = Infinity;
    this.tx(() => {
      for (const r of routes) {
        const gl = groupLabelsOf(r.groupBy, labels);
        const key = groupKeyOf(r.index, gl);
        const group = this.q("SELECT next_flush_at FROM notify_groups WHERE key = ?").get(key) as
          Pick<GroupRow, "next_flush_at"> | undefined;
        if (group) earliest = Math.min(earliest, group.next_flush_at);
        else {
          const at = now + r.groupWait;
          earliest = Math.min(earliest, at);
          this.q(
            `INSERT INTO notify_groups (key, route_index, receivers, mention, send_resolved, group_labels,
               group_interval_ms, repeat_interval_ms, created_at, next_flush_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
          ).run(
            key,
            r.index,
            JSON.stringify(r.receivers),
            r.mention ?? null,
            r.sendResolved ? 1 : 0,
            JSON.stringify(gl),
            r.groupInterval,
            r.repeatInterval,
            now,
            at,
          );
        }
        const existing = this.q(
          `SELECT id, status, stateful, notified FROM notify_alerts WHERE group_key = ? AND fingerprint = ?
             AND status IN ${ACTIVE} ORDER BY id DESC LIMIT 1`,
        ).get(key, fp) as Pick<AlertRow, "id" | "status" | "stateful" | "notified"> | undefined;
        const data = event.data ? JSON.stringify(event.data) : null;
        if (
          existing &&
          (existing.status === "resolved" ? stateful : existing.stateful || !existing.notified)
        ) {
          // The same alert again: fold it (Alertmanager deduplicates by labels).
          this.q(
            `UPDATE notify_alerts SET status = 'firing', ends_at = NULL, count = count + 1, message = ?,
               severity = ?, labels = ?, revision = ?, data = ? WHERE id = ?`,
          ).run(
            event.message,
            event.severity,
            JSON.stringify(labels),
            event.revision ?? null,
            data,
            existing.id,
          );
        } else {
          this.q(
            `INSERT INTO notify_alerts (group_key, fingerprint, project, environment, service, event, labels,
               severity, message, revision, data, stateful, status, starts_at, received_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'firing',?,?)`,
          ).run(
            key,
            fp,
            event.project,
            event.env,
            event.service ?? "",
            event.kind,
            JSON.stringify(labels),
            event.severity,
            event.message,
            event.revision ?? null,
            data,
            stateful ? 1 : 0,
            startsAt,
            now,
          );
        }
      }
    });
    this.wake(earliest);
    return { accepted: true, routes: routes.length, resolved: 0 };
  }

  /**
   * `slipway alerts test`: one notification per matching route's receivers, sent at once
   * (no group wait) through the outbox. An empty `receivers` means no route matches.
   */
  sendTest(opts: { project: string; env: string; severity?: Severity; service?: string; message?: string }): {
    notificationId?: number;
    receivers: string[];
  } {
    const severity = opts.severity ?? "critical";
    const ev: AlertEvent = {
      project: opts.project,
      env: opts.env,
      service: opts.service,
      kind: "alert.test",
      severity,
      message: opts.message ?? `Test alert (${severity}) for ${opts.project}/${opts.env} from slipway`,
    };
    const labels = labelsOf(ev);
    const routes = selectRoutes(this.config, labels);
    const receivers = [...new Set(routes.flatMap((r) => r.receivers))];
    if (!receivers.length) return { receivers };
    const now = this.now();
    const n: Omit<Notification, "id"> = {
      groupKey: groupKeyOf(-1, labels),
      status: "firing",
      groupLabels: labels,
      commonLabels: labels,
      mention: routes.find((r) => r.mention)?.mention,
      test: true,
      createdAt: new Date(now).toISOString(),
      alerts: [
        {
          status: "firing",
          labels,
          severity,
          message: ev.message,
          startsAt: new Date(now).toISOString(),
          count: 1,
          fingerprint: fingerprintOf(labels),
        },
      ],
    };
    let id = 0;
    this.tx(() => {
      id = this.insertNotification(n, receivers, now, now);
    });
    this.kick();
    return { notificationId: id, receivers };
  }

  // ── silences ──────────────────────────────────────────────────────────────────────────────

  addSilence(input: SilenceInput): Silence {
    const now = this.now();
    const row = silenceRow(input, now);
    this.q(
      `INSERT INTO notify_silences (id, matchers, starts_at, ends_at, author, comment, created_at)
         VALUES (@id, @matchers, @starts_at, @ends_at, @author, @comment, @created_at)`,
    ).run(row);
    this.log.info("silence added", {
      id: row.id,
      author: row.author,
      until: new Date(row.ends_at).toISOString(),
    });
    return silenceOf(row, now);
  }

  /** Active and pending silences (and expired ones with `all`), newest first. */
  listSilences(opts: { all?: boolean } = {}): Silence[] {
    const now = this.now();
    const rows = (
      opts.all
        ? this.q("SELECT * FROM notify_silences ORDER BY created_at DESC").all()
        : this.q("SELECT * FROM notify_silences WHERE ends_at > ? ORDER BY created_at DESC").all(now)
    ) as SilenceRow[];
    return rows.map((r) => silenceOf(r, now));
  }

  /** Ends a silence now; alerts it held back are notified at their group's next interval. */
  expireSilence(id: string): Silence {
    const now = this.now();
    const row = this.q("SELECT * FROM notify_silences WHERE id = ?").get(id) as SilenceRow | undefined;
    if (!row) {
      const ids = this.listSilences().map((s) => s.id);
      throw new UsageError(`no silence "${id}"${ids.length ? ` (active: ${ids.join(", ")})` : ""}`);
    }
    if (row.ends_at > now) {
      row.ends_at = Math.max(now, row.starts_at);
      this.q("UPDATE notify_silences SET ends_at = ? WHERE id = ?").run(row.ends_at, id);
      this.log.info("silence expired", { id });
    }
    this.kick();
    return silenceOf(row, now);
  }

  // ── delivery log ──────────────────────────────────────────────────────────────────────────

  /** Newest first. Errors in the log are redacted before they are stored. */
  listDeliveries(opts: ListDeliveriesOptions = {}): DeliveryRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.status) {
      where.push("d.status = ?");
      args.push(opts.status);
    }
    if (opts.receiver) {
      where.push("d.receiver = ?");
      args.push(opts.receiver);
    }
    if (opts.project) {
      where.push("n.project = ?");
      args.push(opts.project);
    }
    if (opts.env) {
      where.push("n.environment = ?");
      args.push(opts.env);
    }
    if (opts.beforeId) {
      where.push("d.id < ?");
      args.push(opts.beforeId);
    }
    const rows = this.q(
      `SELECT d.*, n.title, n.status AS n_status, n.project, n.environment, n.test
         FROM notify_deliveries d JOIN notify_notifications n ON n.id = d.notification_id
         ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY d.id DESC LIMIT ?`,
    ).all(...args, opts.limit ?? 50) as (DeliveryRow & {
      title: string;
      n_status: "firing" | "resolved";
      project: string | null;
      environment: string | null;
      test: number;
    })[];
    const iso = (ms: number | null) => (ms == null ? undefined : new Date(ms).toISOString());
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      receiver: r.receiver,
      channelType: r.channel_type,
      status: r.status,
      attempts: r.attempts,
      createdAt: new Date(r.created_at).toISOString(),
      sentAt: iso(r.sent_at),
      nextAttemptAt: r.status === "pending" ? iso(r.next_attempt_at) : undefined,
      lastError: r.last_error ?? undefined,
      detail: r.detail ?? undefined,
      title: r.title,
      notificationStatus: r.n_status,
      project: r.project ?? undefined,
      environment: r.environment ?? undefined,
      test: r.test === 1,
    }));
  }

  /** Every attempt of one delivery, oldest first. */
  deliveryAttempts(deliveryId: number): AttemptRecord[] {
    const rows = this.q(
      "SELECT attempt, at, duration_ms, ok, detail FROM notify_attempts WHERE delivery_id = ? ORDER BY id",
    ).all(deliveryId) as { attempt: number; at: number; duration_ms: number; ok: number; detail: string }[];
    return rows.map((r) => ({
      attempt: r.attempt,
      at: new Date(r.at).toISOString(),
      durationMs: r.duration_ms,
      ok: r.ok === 1,
      detail: r.detail,
    }));
  }

  /** The notification a delivery carries (what the channel was given). */
  getNotification(id: number): Notification | undefined {
    const row = this.q("SELECT id, payload FROM notify_notifications WHERE id = ?").get(id) as
      { id: number; payload: string } | undefined;
    return row ? { ...(JSON.parse(row.payload) as Omit<Notification, "id">), id: row.id } : undefined;
  }

  stats(): NotifierStats {
    const counts = Object.fromEntries(
      (
        this.q("SELECT status, COUNT(*) AS c FROM notify_deliveries GROUP BY status").all() as {
          status: string;
          c: number;
        }[]
      ).map((r) => [r.status, r.c]),
    );
    const one = (sql: string) => (this.q(sql).get() as { c: number }).c;
    return {
      pending: counts.pending ?? 0,
      sending: counts.sending ?? 0,
      sent: counts.sent ?? 0,
      failed: counts.failed ?? 0,
      openGroups: one("SELECT COUNT(*) AS c FROM notify_groups"),
      firingAlerts: one("SELECT COUNT(*) AS c FROM notify_alerts WHERE status = 'firing'"),
    };
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────

  /** Recover what a previous process left (claimed deliveries whose owner is gone) and start working. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const now = this.now();
    const orphans = (
      this.q("SELECT id, owner_pid, owner FROM notify_deliveries WHERE status = 'sending'").all() as Pick<
        DeliveryRow,
        "id" | "owner_pid" | "owner"
      >[]
    ).filter((r) => r.owner !== this.owner && !pidAlive(r.owner_pid));
    if (orphans.length) {
      const reset = this.q(
        "UPDATE notify_deliveries SET status = 'pending', next_attempt_at = ?, owner = NULL WHERE id = ? AND status = 'sending'",
      );
      this.tx(() => {
        for (const o of orphans) reset.run(now, o.id);
      });
      this.log.warn("deliveries interrupted by a crash are sent again (a receiver may see one twice)", {
        count: orphans.length,
        ids: orphans.slice(0, 20).map((o) => o.id),
      });
    }
    const unknown = this.q(
      "SELECT DISTINCT receiver FROM notify_deliveries WHERE status = 'pending'",
    ).all() as { receiver: string }[];
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
    await Promise.allSettled([...this.running]);
    this.drainResults();
    await Promise.allSettled([...this.channels.values()].map((c) => c.close?.()));
  }

  /**
   * Notify open groups now (ignoring groupWait/groupInterval) and wait until the outbox is
   * empty or `timeoutMs` passes. Resolves with what is still queued.
   */
  async flush(opts: { timeoutMs?: number; groups?: boolean } = {}): Promise<NotifierStats> {
    if (opts.groups !== false) {
      this.q("UPDATE notify_groups SET next_flush_at = ? WHERE next_flush_at > ?").run(
        this.now(),
        this.now(),
      );
    }
    const wasStarted = this.started;
    if (!wasStarted) this.start();
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    this.tick();
    for (;;) {
      const s = this.stats();
      const dueGroups = (
        this.q("SELECT COUNT(*) AS c FROM notify_groups WHERE next_flush_at <= ?").get(this.now()) as {
          c: number;
        }
      ).c;
      if (
        (s.pending === 0 && s.sending === 0 && (opts.groups === false || dueGroups === 0)) ||
        Date.now() >= deadline
      ) {
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
      this.drainResults();
      this.flushDueGroups();
      this.pump();
      if (this.now() - this.lastPrune > 3_600_000) this.prune();
    } catch (e) {
      this.log.error("notifier tick failed", { error: this.redact(String(e)) });
    }
    this.wake(this.nextWake());
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
    const g = this.q("SELECT MIN(next_flush_at) AS m FROM notify_groups").get() as {
      m: number | null;
    };
    if (g.m != null) at = Math.min(at, g.m);
    const minDue = this.q(
      "SELECT MIN(next_attempt_at) AS m FROM notify_deliveries WHERE status = 'pending' AND receiver = ?",
    );
    for (const name of this.channels.keys()) {
      if ((this.inflight.get(name) ?? 0) >= this.capacity(name)) continue; // a completion re-pumps
      const m = (minDue.get(name) as { m: number | null }).m;
      if (m == null) continue;
      at = Math.min(at, Math.max(m, this.receiver(name).blockedUntil));
    }
    return Math.max(at, now);
  }

  // ── grouping ──────────────────────────────────────────────────────────────────────────────

  private flushDueGroups(): void {
    for (;;) {
      const now = this.now();
      let n = 0;
      this.tx(() => {
        const groups = this.q(
          "SELECT * FROM notify_groups WHERE next_flush_at <= ? ORDER BY next_flush_at LIMIT 200",
        ).all(now) as GroupRow[];
        n = groups.length;
        if (!n) return;
        const silences = (
          this.q("SELECT id, matchers FROM notify_silences WHERE starts_at <= ? AND ends_at > ?").all(
            now,
            now,
          ) as { id: string; matchers: string }[]
        ).map((s) => ({ id: s.id, m: JSON.parse(s.matchers) as Matchers }));
        for (const g of groups) this.flushGroup(g, now, silences);
      });
      if (n < 200) return;
    }
  }

  private flushGroup(g: GroupRow, now: number, silences: { id: string; m: Matchers }[]): void {
    const alerts = this.q(
      `SELECT * FROM notify_alerts WHERE group_key = ? AND status IN ${ACTIVE} ORDER BY id`,
    ).all(g.key) as AlertRow[];
    const setStatus = this.q("UPDATE notify_alerts SET status = ?, silenced_by = ? WHERE id = ?");
    const setNotified = this.q("UPDATE notify_alerts SET notified = ? WHERE id = ?");
    const firing: AlertRow[] = [];
    const resolvedToSend: AlertRow[] = [];
    let stillOpen = 0;
    for (const a of alerts) {
      const labels = JSON.parse(a.labels) as Labels;
      const silence = silences.find((s) => matches(s.m, labels));
      if (silence) {
        if (a.status === "firing" && a.stateful) {
          // Held back, not dropped: notified as new once the silence ends, if still firing.
          if (a.notified) setNotified.run(0, a.id);
          stillOpen++;
        } else setStatus.run(a.status === "firing" ? "silenced" : "done", silence.id, a.id);
        continue;
      }
      if (a.status === "firing") firing.push(a);
      else if (a.notified && g.send_resolved) resolvedToSend.push(a);
      else setStatus.run("done", null, a.id);
    }
    const fresh = firing.some((a) => !a.notified) || resolvedToSend.length > 0;
    const repeat =
      firing.length > 0 && g.last_notified_at != null && now - g.last_notified_at >= g.repeat_interval_ms;
    if (fresh || repeat) {
      const views = [...firing, ...resolvedToSend].map(viewOf);
      const gl = JSON.parse(g.group_labels) as Labels;
      const n: Omit<Notification, "id"> & { truncated?: number } = {
        groupKey: g.key,
        status: firing.length ? "firing" : "resolved",
        groupLabels: gl,
        commonLabels: commonLabelsOf(views.map((v) => v.labels)),
        mention: (g.mention as Notification["mention"]) ?? undefined,
        alerts: views.slice(0, this.maxAlerts),
        createdAt: new Date(now).toISOString(),
      };
      if (views.length > this.maxAlerts) n.truncated = views.length - this.maxAlerts;
      const firstEvent = Math.min(...[...firing, ...resolvedToSend].map((a) => a.received_at));
      this.insertNotification(n, JSON.parse(g.receivers) as string[], now, firstEvent);
      for (const a of firing) {
        if (a.stateful) setNotified.run(1, a.id);
        else setStatus.run("done", null, a.id);
      }
      for (const a of resolvedToSend) setStatus.run("done", null, a.id);
    }
    stillOpen += firing.filter((a) => a.stateful).length;
    if (stillOpen > 0 || this.hasNewAlerts(g.key)) {
      this.q("UPDATE notify_groups SET next_flush_at = ?, last_notified_at = ? WHERE key = ?").run(
        now + g.group_interval_ms,
        fresh || repeat ? now : g.last_notified_at,
        g.key,
      );
    } else {
      this.q("DELETE FROM notify_groups WHERE key = ?").run(g.key);
    }
  }

  private hasNewAlerts(key: string): boolean {
    return !!this.q(
      `SELECT 1 FROM notify_alerts WHERE group_key = ? AND status IN ${ACTIVE} AND notified = 0 LIMIT 1`,
    ).get(key);
  }

  private insertNotification(
    n: Omit<Notification, "id">,
    receivers: string[],
    now: number,
    firstEventAt: number,
  ): number {
    const info = this.q(
      `INSERT INTO notify_notifications (group_key, status, title, project, environment, payload, test,
         created_at, first_event_at) VALUES (?,?,?,?,?,?,?,?,?)`,
    ).run(
      n.groupKey,
      n.status,
      title({ ...n, id: 0 }),
      n.commonLabels.project ?? null,
      n.commonLabels.environment ?? null,
      JSON.stringify(n),
      n.test ? 1 : 0,
      now,
      firstEventAt,
    );
    const id = Number(info.lastInsertRowid);
    const ins = this.q(
      `INSERT OR IGNORE INTO notify_deliveries (notification_id, receiver, channel_type, status, next_attempt_at,
       created_at) VALUES (?,?,?,'pending',?,?)`,
    );
    for (const r of receivers) ins.run(id, r, this.channels.get(r)?.type ?? "unknown", now, now);
    return id;
  }

  // ── delivery ──────────────────────────────────────────────────────────────────────────────

  private receiver(name: string): ReceiverState {
    let s = this.receivers.get(name);
    if (!s) this.receivers.set(name, (s = { failures: 0, blockedUntil: 0 }));
    return s;
  }

  private capacity(name: string): number {
    return this.receiver(name).failures > 0 ? 1 : this.concurrency;
  }

  private pump(): void {
    const now = this.now();
    const due = this.q(
      `SELECT * FROM notify_deliveries WHERE status = 'pending' AND receiver = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ?`,
    );
    const claim = this.q(
      `UPDATE notify_deliveries SET status = 'sending', attempts = attempts + 1, owner = ?, owner_pid = ?
       WHERE id = ? AND status = 'pending'`,
    );
    const claimed: DeliveryRow[] = [];
    this.tx(() => {
      for (const [name] of this.channels) {
        const st = this.receiver(name);
        if (st.blockedUntil > now) continue;
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
    for (const row of claimed) {
      this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 0) + 1);
      const p: Promise<void> = this.deliver(row).finally(() => {
        this.running.delete(p);
        this.inflight.set(row.receiver, (this.inflight.get(row.receiver) ?? 1) - 1);
        for (const w of this.idleWaiters) w();
        this.idleWaiters.clear();
        this.schedulePump();
      });
      this.running.add(p);
    }
  }

  private async deliver(row: DeliveryRow): Promise<void> {
    const channel = this.channels.get(row.receiver);
    const n = this.getNotification(row.notification_id);
    const startedAt = this.now();
    const done = new Set(JSON.parse(row.done) as string[]);
    const ctx: DeliveryContext = {
      deliveryId: row.id,
      attempt: row.attempts,
      done,
      markDone: (recipient) => {
        done.add(recipient);
        this.q("UPDATE notify_deliveries SET done = ? WHERE id = ?").run(JSON.stringify([...done]), row.id);
      },
    };
    try {
      if (!channel) throw new DeliveryError(`no channel "${row.receiver}" is configured`, false);
      if (!n) throw new DeliveryError(`notification ${row.notification_id} is gone`, false);
      const res = await channel.send(n, ctx);
      const detail = this.redact(res.detail);
      this.results.push(() => this.recordSuccess(row, startedAt, detail));
    } catch (e) {
      this.results.push(() => this.recordFailure(row, startedAt, e));
    }
  }

  /**
   * Outcomes of finished requests, committed together with the next claims in one transaction.
   * The wait is one event-loop turn (setImmediate), so the window in which a crash loses a
   * success stays well under a millisecond, and a burst costs one commit per turn, not per alert.
   */
  private readonly results: (() => void)[] = [];

  private drainResults(): void {
    if (!this.results.length) return;
    this.tx(() => {
      for (const r of this.results.splice(0)) r();
    });
  }

  private recordSuccess(row: DeliveryRow, startedAt: number, detail: string): void {
    const now = this.now();
    // The success and the "sent" mark commit together, right after the response.
    this.tx(() => {
      this.q(
        `UPDATE notify_deliveries SET status = 'sent', sent_at = ?, detail = ?, last_error = NULL, owner = NULL
           WHERE id = ?`,
      ).run(now, detail, row.id);
      this.insertAttempt(row, startedAt, now, true, detail);
    });
    const st = this.receiver(row.receiver);
    if (st.failures > 0) this.log.info("receiver is back", { receiver: row.receiver, failures: st.failures });
    st.failures = 0;
    st.blockedUntil = 0;
    this.log.debug("notification delivered", { receiver: row.receiver, delivery: row.id, detail });
  }

  private recordFailure(row: DeliveryRow, startedAt: number, e: unknown): void {
    const now = this.now();
    const de = e instanceof DeliveryError ? e : undefined;
    const message = this.redact(e instanceof Error ? e.message : String(e)).slice(0, 500);
    const retryable = de ? de.retryable : true;
    const tooOld = now - row.created_at >= this.retry.giveUpAfterMs;
    const st = this.receiver(row.receiver);
    if (!retryable || tooOld) {
      this.tx(() => {
        this.q(
          "UPDATE notify_deliveries SET status = 'failed', last_error = ?, owner = NULL WHERE id = ?",
        ).run(message, row.id);
        this.insertAttempt(row, startedAt, now, false, message);
      });
      this.log.error("notification not delivered, giving up", {
        receiver: row.receiver,
        delivery: row.id,
        attempts: row.attempts,
        error: message,
        reason: retryable ? "retried for too long" : "not retryable",
      });
      return;
    }
    st.failures += 1;
    const base = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** Math.min(st.failures - 1, 30));
    // Equal jitter: half fixed, half random, so many notifiers do not retry in lockstep.
    let delay = base / 2 + Math.random() * (base / 2);
    if (de?.retryAfterS) delay = Math.max(delay, Math.min(de.retryAfterS * 1000, this.retry.maxMs));
    const next = now + Math.round(delay);
    st.blockedUntil = Math.max(st.blockedUntil, next);
    this.tx(() => {
      this.q(
        "UPDATE notify_deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?, owner = NULL WHERE id = ?",
      ).run(next, message, row.id);
      this.insertAttempt(row, startedAt, now, false, message);
    });
    const fields = { receiver: row.receiver, delivery: row.id, error: message, retryInMs: Math.round(delay) };
    if (st.failures === 1) this.log.warn("receiver failed, retrying with backoff", fields);
    else this.log.debug("receiver still failing", fields);
  }

  private insertAttempt(row: DeliveryRow, startedAt: number, now: number, ok: boolean, detail: string): void {
    this.q(
      "INSERT INTO notify_attempts (delivery_id, attempt, at, duration_ms, ok, detail) VALUES (?,?,?,?,?,?)",
    ).run(row.id, row.attempts, startedAt, Math.max(0, now - startedAt), ok ? 1 : 0, detail);
  }

  // ── housekeeping ──────────────────────────────────────────────────────────────────────────

  /** Drops finished alerts, notifications, deliveries and expired silences past retention. */
  prune(): void {
    const now = this.now();
    this.lastPrune = now;
    const cutoff = now - this.retentionMs;
    this.tx(() => {
      this.q("DELETE FROM notify_alerts WHERE status IN ('done','silenced') AND received_at < ?").run(cutoff);
      const old = `SELECT id FROM notify_notifications n WHERE created_at < ? AND NOT EXISTS
        (SELECT 1 FROM notify_deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending','sending'))`;
      this.q(
        `DELETE FROM notify_attempts WHERE delivery_id IN (SELECT id FROM notify_deliveries WHERE notification_id IN (${old}))`,
      ).run(cutoff);
      this.q(`DELETE FROM notify_deliveries WHERE notification_id IN (${old})`).run(cutoff);
      this.q(`DELETE FROM notify_notifications WHERE id IN (${old})`).run(cutoff);
      this.q("DELETE FROM notify_silences WHERE ends_at < ?").run(cutoff);
    });
  }

  private readonly statements = new Map<string, Statement>();

  /** Prepared once, reused: preparing costs more than running these small statements. */
  private q(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  private tx(fn: () => void): void {
    if (this.db.inTransaction) fn();
    else this.db.transaction(fn).immediate();
  }
}

function viewOf(a: AlertRow): AlertView {
  return {
    status: a.status === "resolved" ? "resolved" : "firing",
    labels: JSON.parse(a.labels) as Labels,
    severity: a.severity as Severity,
    message: a.message,
    ...(a.revision != null ? { revision: a.revision } : {}),
    ...(a.data ? { data: JSON.parse(a.data) as Record<string, unknown> } : {}),
    startsAt: new Date(a.starts_at).toISOString(),
    ...(a.ends_at != null ? { endsAt: new Date(a.ends_at).toISOString() } : {}),
    count: a.count,
    fingerprint: a.fingerprint,
  };
}

function pidAlive(pid: number | null): boolean {
  if (!pid) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
