/**
 * The notifier hub: one Notifier (and one SQLite outbox, `notify/<project>@<env>.db` under
 * SLIPWAY_HOME) per project and environment, fed by the engine's events.
 *
 * Configuration arrives with every operation (the resolved spec's `alerts` block, secrets
 * resolved). The real configuration lives in memory only. What is persisted, so that
 * deliveries pending across a daemon restart still go out, is a redacted copy: the snapshot's
 * `${VAR}` templates instead of secret values, re-hydrated at start from the daemon's own
 * environment. A channel whose secret was written literally in slipway.yaml, or whose
 * variable the daemon does not have, is not re-hydrated: its deliveries wait (the outbox
 * keeps them) until the next operation brings the real configuration.
 *
 * Why one database per environment: the outbox's groups and deliveries name receivers by
 * channel name, and two environments may give the same name to different URLs.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { OperationFailed, UsageError } from "../errors.js";
import type { EngineEvent } from "../engine/events.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { Resolution } from "../spec/resolve.js";
import { alertsSchema } from "../spec/schema-alerts.js";
import type { AlertsConfig } from "../spec/schema-alerts.js";
import { MIN_SCRUB, persistable, readHubConfig, rehydrated, writeHubConfig } from "./hub-config.js";
import { Notifier } from "./notifier.js";
import type { DeliveryRecord, DeliveryStatus, RetryPolicy } from "./notifier.js";
import { openNotifyDb } from "./outbox.js";
import type { Db } from "./outbox.js";
import { makeRedactor } from "./redact.js";
import type { Redactor } from "./redact.js";
import { labelsOf, matches } from "./routing.js";
import { StoredSilences } from "./silences.js";
import type { Silence, SilenceInput, SilenceStore } from "./silences.js";
import type { Severity } from "./types.js";

export interface NotifierHubOptions {
  /** SLIPWAY_HOME: the outboxes live in `<home>/notify/`. */
  home: string;
  /** The store: silences live there (the outboxes still in `<home>/notify/`). */
  store: SilenceStore;
  logger?: Logger;
  /** Variables re-hydrating persisted configurations (default: process.env). */
  vars?: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
  /** How long close() waits for deliveries when the hub was not started as a daemon's (default 10 s). */
  closeFlushMs?: number;
}

/** One line of `slipway alerts list`. */
export interface DeliveryView {
  id: number;
  time: string;
  receiver: string;
  channelType: string;
  status: DeliveryStatus;
  attempts: number;
  title: string;
  test: boolean;
  sentAt?: string;
  nextAttemptAt?: string;
  lastError?: string;
}

/** `slipway alerts test`: one entry per receiver the routes picked. */
export interface AlertTestResult {
  project: string;
  env: string;
  severity: Severity;
  /** Absent when a silence held the test back (then nothing was sent). */
  notificationId?: number;
  /** The active silence matching the test alert's labels. */
  silencedBy?: Silence;
  ok: boolean;
  deliveries: {
    receiver: string;
    channelType: string;
    status: DeliveryStatus;
    attempts: number;
    detail?: string;
    error?: string;
  }[];
}

interface EnvNotify {
  project: string;
  env: string;
  db: Db;
  notifier: Notifier;
  /** The configuration in force (real, or re-hydrated from the persisted copy). */
  config: AlertsConfig;
  /** JSON of the last real configuration an operation brought (change detection). */
  liveKey?: string;
  /** JSON of the persisted (redacted) configuration. */
  persisted?: string;
  redact: Redactor;
  /** Received an alert since it was opened (close() flushes those when not a daemon). */
  dirty: boolean;
}

const EMPTY: AlertsConfig = alertsSchema.parse({});

export class NotifierHub {
  private readonly envs = new Map<string, EnvNotify>();
  private readonly log: Logger;
  private readonly dir: string;
  private daemon = false;
  private closed = false;

  constructor(private readonly opts: NotifierHubOptions) {
    this.log = opts.logger ?? silentLogger;
    this.dir = join(opts.home, "notify");
  }

  /**
   * Daemon start: every environment with a persisted configuration gets its notifier back
   * (re-hydrated), so deliveries pending from before the restart go out.
   */
  start(): void {
    this.daemon = true;
    if (!existsSync(this.dir)) return;
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".db")) continue;
      let db: Db | undefined;
      try {
        db = openNotifyDb(join(this.dir, f));
        const row = readHubConfig(db);
        if (!row?.alerts || this.envs.has(keyOf(row.project, row.env))) {
          db.close();
          continue;
        }
        const config = rehydrated(row, this.opts.vars ?? process.env, this.log);
        this.adopt(row.project, row.env, db, config, row.alerts);
        db = undefined;
      } catch (e) {
        db?.close();
        this.log.error(`alerts: could not reopen ${join(this.dir, f)}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * The configuration an operation brought: kept in memory, persisted redacted. Cheap when
   * nothing changed (the daemon calls it for every operation).
   */
  configure(resolution: Resolution): void {
    if (this.closed) return;
    try {
      this.apply(resolution);
    } catch (e) {
      // Alerts must never stop an operation; the previous configuration stays in force.
      const { project, env } = resolution.spec;
      this.log.error(
        `alerts: could not apply the configuration of ${project}/${env}: ${(e as Error).message}`,
      );
    }
  }

  private apply(resolution: Resolution): void {
    const { project, env } = resolution.spec;
    const alerts = resolution.spec.alerts;
    let e = this.envs.get(keyOf(project, env));
    if (!alerts && !e && !existsSync(this.fileOf(project, env))) return;
    e ??= this.open(project, env);
    e.redact = makeRedactor([...resolution.secrets.values()].filter((v) => v.length >= MIN_SCRUB));
    const liveKey = JSON.stringify(alerts ?? null);
    if (liveKey === e.liveKey) return;
    e.liveKey = liveKey;
    e.config = alerts ?? EMPTY;
    e.notifier.setConfig(e.config);
    const { text, held } = persistable(resolution);
    if (text !== e.persisted) {
      writeHubConfig(e.db, project, env, text, held);
      e.persisted = text ?? undefined;
    }
  }

  /** The engine subscriber: alert events become notifier alerts; everything else is ignored. */
  readonly onEvent = (project: string, env: string, ev: EngineEvent): void => {
    if (ev.type !== "alert" || this.closed) return;
    const e = this.envs.get(keyOf(project, env));
    if (!e || !Object.keys(e.config.channels).length) return;
    try {
      const data = ev.data
        ? (JSON.parse(e.redact(JSON.stringify(ev.data))) as Record<string, unknown>)
        : undefined;
      e.notifier.emit({
        project,
        env,
        kind: ev.kind,
        severity: ev.severity,
        message: e.redact(ev.message),
        service: ev.service,
        revision: ev.revision,
        data,
      });
      e.dirty = true;
    } catch (err) {
      this.log.error(`alerts: could not record ${ev.kind} for ${project}/${env}: ${(err as Error).message}`);
    }
  };

  /** `slipway alerts list`: the delivery log, newest first. */
  listDeliveries(project: string, env: string, opts: { limit?: number } = {}): DeliveryView[] {
    const e = this.existing(project, env);
    if (!e) return [];
    return e.notifier.listDeliveries({ limit: opts.limit ?? 20 }).map((d) => view(d, e.redact));
  }

  /** `slipway alerts test`: one test notification through the routes, waited for. */
  async test(
    project: string,
    env: string,
    opts: { severity?: Severity; timeoutMs?: number } = {},
  ): Promise<AlertTestResult> {
    const e = this.envs.get(keyOf(project, env));
    const severity = opts.severity ?? "critical";
    if (!e || !Object.keys(e.config.channels).length)
      throw new UsageError(
        `environment "${env}" has no alert channels: add an alerts: block to slipway.yaml (see docs/alerts.md)`,
      );
    // A test goes through silences like a real alert would (sendTest itself skips grouping).
    const labels = labelsOf({ project, env, kind: "alert.test", severity, message: "" });
    const silence = (await e.notifier.listSilences()).find(
      (s) => s.state === "active" && matches(s.matchers, labels),
    );
    if (silence) return { project, env, severity, ok: true, silencedBy: silence, deliveries: [] };
    const sent = e.notifier.sendTest({ project, env, severity });
    if (!sent.receivers.length || sent.notificationId === undefined)
      throw new OperationFailed(
        `no route of environment "${env}" sends ${severity} alerts (check alerts.routes in slipway.yaml)`,
      );
    const id = sent.notificationId;
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    let rows: DeliveryRecord[] = [];
    for (;;) {
      rows = e.notifier.listDeliveries({ limit: 500 }).filter((d) => d.notificationId === id);
      // Settled: sent, given up, or failed once and now waiting to retry (the error is known).
      const settled = (d: DeliveryRecord) =>
        d.status === "sent" || d.status === "failed" || (d.status === "pending" && d.attempts > 0);
      const done = rows.length > 0 && rows.every(settled);
      if (done || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const deliveries = rows
      .sort((a, b) => a.receiver.localeCompare(b.receiver))
      .map((d) => ({
        receiver: d.receiver,
        channelType: d.channelType,
        status: d.status,
        attempts: d.attempts,
        detail: d.detail ? e.redact(d.detail) : undefined,
        error: d.lastError ? e.redact(d.lastError) : undefined,
      }));
    return {
      project,
      env,
      severity,
      notificationId: id,
      ok: deliveries.length > 0 && deliveries.every((d) => d.status === "sent"),
      deliveries,
    };
  }

  async addSilence(project: string, env: string, input: SilenceInput): Promise<Silence> {
    const e = this.envs.get(keyOf(project, env)) ?? this.existing(project, env);
    if (!e || (!Object.keys(e.config.channels).length && !(await e.notifier.listSilences()).length))
      throw new UsageError(
        `environment "${env}" has no alerts to silence: add an alerts: block to slipway.yaml (see docs/alerts.md)`,
      );
    return e.notifier.addSilence(input);
  }

  /** Read from the store, also for an environment with no outbox on this machine (a shared store). */
  async listSilences(project: string, env: string, opts: { all?: boolean } = {}): Promise<Silence[]> {
    const e = this.existing(project, env);
    if (e) return e.notifier.listSilences(opts);
    return new StoredSilences(this.opts.store, project, env).list(Date.now(), opts);
  }

  async expireSilence(project: string, env: string, id: string): Promise<Silence> {
    const e = this.existing(project, env);
    if (e) return e.notifier.expireSilence(id);
    return (await new StoredSilences(this.opts.store, project, env).expire(id, Date.now())).silence;
  }

  /**
   * Stop every notifier. Outside a daemon (`--in-process`), alerts of this run are sent
   * first (group waits cut short), for up to closeFlushMs; what is left waits in the outbox.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.envs.values()];
    this.envs.clear();
    if (!this.daemon) {
      const timeoutMs = this.opts.closeFlushMs ?? 10_000;
      await Promise.all(
        all
          .filter((e) => e.dirty)
          .map(async (e) => {
            const s = await e.notifier.flush({ timeoutMs });
            if (s.pending || s.sending)
              this.log.warn(
                `alerts: ${s.pending + s.sending} delivery(ies) of ${e.project}/${e.env} still pending; ` +
                  "the daemon sends them (slipway serve)",
              );
          }),
      );
    }
    for (const e of all) {
      await e.notifier.stop();
      e.db.close();
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────

  private fileOf(project: string, env: string): string {
    return join(this.dir, `${encodeURIComponent(project)}@${encodeURIComponent(env)}.db`);
  }

  /** The environment's notifier when it has an outbox (opened without a configuration if need be). */
  private existing(project: string, env: string): EnvNotify | undefined {
    const e = this.envs.get(keyOf(project, env));
    if (e) return e;
    if (this.closed || !existsSync(this.fileOf(project, env))) return undefined;
    return this.open(project, env);
  }

  private open(project: string, env: string): EnvNotify {
    const db = openNotifyDb(this.fileOf(project, env));
    try {
      const row = readHubConfig(db);
      const config = row?.alerts ? rehydrated(row, this.opts.vars ?? process.env, this.log) : EMPTY;
      return this.adopt(project, env, db, config, row?.alerts ?? undefined);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private adopt(project: string, env: string, db: Db, config: AlertsConfig, persisted?: string): EnvNotify {
    const notifier = new Notifier({
      db,
      config,
      silences: { store: this.opts.store, project, env },
      logger: this.log,
      retry: this.opts.retry,
    });
    notifier.start();
    const e: EnvNotify = { project, env, db, notifier, config, persisted, redact: (s) => s, dirty: false };
    this.envs.set(keyOf(project, env), e);
    return e;
  }
}

function keyOf(project: string, env: string): string {
  return `${project}\u0000${env}`;
}

function view(d: DeliveryRecord, redact: Redactor): DeliveryView {
  return {
    id: d.id,
    time: d.sentAt ?? d.createdAt,
    receiver: d.receiver,
    channelType: d.channelType,
    status: d.status,
    attempts: d.attempts,
    title: redact(d.title),
    test: d.test,
    sentAt: d.sentAt,
    nextAttemptAt: d.nextAttemptAt,
    lastError: d.lastError ? redact(d.lastError) : undefined,
  };
}

export { credentialsOf, persistable } from "./hub-config.js";
