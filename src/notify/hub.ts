/**
 * The notifier hub: one Notifier (and one outbox in the store) per project and environment,
 * fed by the engine's events. While the store cannot be reached, alerts wait in the local
 * spool (spool.ts) and are drained into the store when it returns.
 *
 * Configuration arrives with every operation (the resolved spec's `alerts` block, secrets
 * resolved). The real configuration lives in memory only. What is persisted, so that
 * deliveries pending across a daemon restart still go out, is a redacted copy: the snapshot's
 * `${VAR}` templates instead of secret values, re-hydrated at start from the daemon's own
 * environment. A channel whose secret was written literally in slipway.yaml, or whose
 * variable the daemon does not have, is not re-hydrated: its deliveries wait (the outbox
 * keeps them) until the next operation brings the real configuration.
 *
 * Why one outbox per environment: the outbox's groups and deliveries name receivers by
 * channel name, and two environments may give the same name to different URLs.
 */
import { join } from "node:path";
import { OperationFailed, UsageError } from "../errors.js";
import type { EngineEvent } from "../engine/events.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import type { Resolution } from "../spec/resolve.js";
import { alertsSchema } from "../spec/schema-alerts.js";
import type { AlertsConfig } from "../spec/schema-alerts.js";
import { isUnreachable } from "../store/sql.js";
import { persistable, rehydrated } from "./hub-config.js";
import { importLegacyOutboxes } from "./legacy.js";
import { Notifier } from "./notifier.js";
import type { DeliveryRecord, NotifyStore, RetryPolicy } from "./notifier.js";
import { configuredOutboxes, findOutbox, outboxId, writeHubConfig } from "./outbox.js";
import type { HubRow } from "./outbox.js";
import { StoreOutage } from "./outage.js";
import { Spool } from "./spool.js";
import type { SpooledAlert } from "./spool.js";
import { makeRedactor } from "../util/redact.js";
import type { Redactor } from "../util/redact.js";
import { labelsOf, matches } from "./routing.js";
import { StoredSilences } from "./silences.js";
import type { AlertTestResult, DeliveryView } from "./hub-types.js";
import type { Silence, SilenceInput } from "./silences.js";
import type { AlertEvent, Severity } from "./types.js";

export interface NotifierHubOptions {
  /** SLIPWAY_HOME: the spool (and outbox files of an earlier Slipway) live in `<home>/notify/`. */
  home: string;
  /** The store: outboxes and silences live there. */
  store: NotifyStore;
  logger?: Logger;
  /** Variables re-hydrating persisted configurations (default: process.env). */
  vars?: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
  /** How long close() waits for deliveries when the hub was not started as a daemon's (default 10 s). */
  closeFlushMs?: number;
  /** How often the spool is drained while it holds alerts (default 1 s). */
  spoolRetryMs?: number;
}

interface EnvNotify {
  project: string;
  env: string;
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
  private readonly spool: Spool;
  private daemon = false;
  private closed = false;
  private imported?: Promise<void>;
  /** While the store is unreachable, alerts wait in the spool. */
  private readonly outage: StoreOutage;

  constructor(private readonly opts: NotifierHubOptions) {
    this.log = opts.logger ?? silentLogger;
    this.spool = new Spool(join(opts.home, "notify", "spool.jsonl"));
    this.outage = new StoreOutage({
      spool: this.spool,
      log: this.log,
      retryMs: opts.spoolRetryMs,
      emit: async (a) => {
        const e = await this.existing(a.project, a.env);
        if (e) await e.notifier.emit(a.event);
      },
      environments: () => [...this.envs.values()].filter((e) => Object.keys(e.config.channels).length),
    });
  }

  /** Old per-environment outbox files are imported into the store once, before first use. */
  private ready(): Promise<void> {
    return (this.imported ??= importLegacyOutboxes(this.opts.home, this.opts.store, this.log).then(
      () => undefined,
      (e: unknown) => {
        this.imported = undefined;
        this.log.error(`alerts: could not import old outbox files: ${(e as Error).message}`);
      },
    ));
  }

  /**
   * Daemon start: every environment with a persisted configuration gets its notifier back
   * (re-hydrated), so deliveries pending from before the restart go out; the spool drains.
   */
  async start(): Promise<void> {
    this.daemon = true;
    await this.ready();
    try {
      for (const row of await configuredOutboxes(this.opts.store.outbox)) {
        if (this.envs.has(keyOf(row.project, row.env))) continue;
        this.adopt(row.project, row.env, this.configOf(row), row.alerts ?? undefined);
      }
    } catch (e) {
      this.log.error(`alerts: could not read the outboxes from the store: ${(e as Error).message}`);
      if (isUnreachable(e)) this.outage.down(e);
    }
    this.outage.schedule(0);
  }

  /**
   * The configuration an operation brought: kept in memory, persisted redacted. Cheap when
   * nothing changed (the daemon calls it for every operation). Never rejects.
   */
  async configure(resolution: Resolution): Promise<void> {
    if (this.closed) return;
    try {
      await this.apply(resolution);
    } catch (e) {
      // Alerts must never stop an operation; the previous configuration stays in force.
      const { project, env } = resolution.spec;
      this.log.error(
        `alerts: could not apply the configuration of ${project}/${env}: ${(e as Error).message}`,
      );
    }
  }

  private async apply(resolution: Resolution): Promise<void> {
    const { project, env } = resolution.spec;
    const alerts = resolution.spec.alerts;
    let e = this.envs.get(keyOf(project, env));
    if (!e) {
      await this.ready();
      const row = alerts ? undefined : await findOutbox(this.opts.store.outbox, project, env);
      if (!alerts && !row) return;
      e = this.envs.get(keyOf(project, env)) ?? this.adopt(project, env, EMPTY, row?.alerts ?? undefined);
    }
    e.redact = makeRedactor(resolution.secrets.values());
    const liveKey = JSON.stringify(alerts ?? null);
    if (liveKey === e.liveKey) return;
    e.liveKey = liveKey;
    e.config = alerts ?? EMPTY;
    e.notifier.setConfig(e.config);
    const { text, held } = persistable(resolution);
    if (text !== (e.persisted ?? null)) {
      const id = await outboxId(this.opts.store.outbox, project, env);
      await writeHubConfig(this.opts.store.outbox, id, text, held);
      e.persisted = text ?? undefined;
    }
  }

  /** The engine subscriber: alert events become notifier alerts; everything else is ignored. */
  readonly onEvent = (project: string, env: string, ev: EngineEvent): void => {
    if (ev.type !== "alert" || this.closed) return;
    const e = this.envs.get(keyOf(project, env));
    if (!e || !Object.keys(e.config.channels).length) return;
    const data = ev.data
      ? (JSON.parse(e.redact(JSON.stringify(ev.data))) as Record<string, unknown>)
      : undefined;
    const event: AlertEvent = {
      project,
      env,
      kind: ev.kind,
      severity: ev.severity,
      message: e.redact(ev.message),
      service: ev.service,
      revision: ev.revision,
      data,
      time: new Date().toISOString(),
    };
    e.dirty = true;
    this.raise(e, event);
  };

  /** Into the store, or into the spool while the store is unreachable (order kept). */
  private raise(e: EnvNotify, event: AlertEvent): void {
    const alert = { project: e.project, env: e.env, event };
    if (this.outage.spooling) return this.outage.spoolAlerts([alert]);
    e.notifier.emit(event).catch((err: unknown) => {
      if (!isUnreachable(err))
        return this.log.error(
          `alerts: could not record ${event.kind} for ${e.project}/${e.env}: ${String(err)}`,
        );
      this.outage.spoolAlerts([alert]);
      this.outage.down(err);
    });
  }

  /** Alerts waiting in the local spool (the store was unreachable when they were raised). */
  spooled(): SpooledAlert[] {
    return this.spool.read();
  }

  /** `slipway alerts list`: the delivery log, newest first. */
  async listDeliveries(project: string, env: string, opts: { limit?: number } = {}): Promise<DeliveryView[]> {
    const e = await this.existing(project, env);
    if (!e) return [];
    return (await e.notifier.listDeliveries({ limit: opts.limit ?? 20 })).map((d) => view(d, e.redact));
  }

  /** `slipway alerts test`: one test notification through the routes, waited for. */
  async test(
    project: string,
    env: string,
    opts: { severity?: Severity; timeoutMs?: number } = {},
  ): Promise<AlertTestResult> {
    const e = await this.existing(project, env);
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
    const sent = await e.notifier.sendTest({ project, env, severity });
    if (!sent.receivers.length || sent.notificationId === undefined)
      throw new OperationFailed(
        `no route of environment "${env}" sends ${severity} alerts (check alerts.routes in slipway.yaml)`,
      );
    const id = sent.notificationId;
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    let rows: DeliveryRecord[] = [];
    for (;;) {
      rows = (await e.notifier.listDeliveries({ limit: 500 })).filter((d) => d.notificationId === id);
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
    const e = await this.existing(project, env);
    if (!e || (!Object.keys(e.config.channels).length && !(await e.notifier.listSilences()).length))
      throw new UsageError(
        `environment "${env}" has no alerts to silence: add an alerts: block to slipway.yaml (see docs/alerts.md)`,
      );
    return e.notifier.addSilence(input);
  }

  /** Read from the store, also for an environment with no outbox (alerts configured elsewhere). */
  async listSilences(project: string, env: string, opts: { all?: boolean } = {}): Promise<Silence[]> {
    const e = await this.existing(project, env);
    if (e) return e.notifier.listSilences(opts);
    return new StoredSilences(this.opts.store, project, env).list(Date.now(), opts);
  }

  async expireSilence(project: string, env: string, id: string): Promise<Silence> {
    const e = await this.existing(project, env);
    if (e) return e.notifier.expireSilence(id);
    return (await new StoredSilences(this.opts.store, project, env).expire(id, Date.now())).silence;
  }

  /**
   * Stop every notifier. Outside a daemon (`--in-process`), alerts of this run are sent
   * first (group waits cut short), for up to closeFlushMs; what is left waits in the outbox.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.outage.close();
    this.closed = true;
    const all = [...this.envs.values()];
    this.envs.clear();
    if (!this.daemon) {
      const timeoutMs = this.opts.closeFlushMs ?? 10_000;
      await Promise.all(all.filter((e) => e.dirty).map((e) => this.flushOne(e, timeoutMs)));
    }
    for (const e of all) await e.notifier.stop();
  }

  private async flushOne(e: EnvNotify, timeoutMs: number): Promise<void> {
    try {
      const s = await e.notifier.flush({ timeoutMs });
      if (s.pending || s.sending)
        this.log.warn(
          `alerts: ${s.pending + s.sending} delivery(ies) of ${e.project}/${e.env} still pending; ` +
            "the daemon sends them (slipway serve)",
        );
    } catch (err) {
      this.log.warn(`alerts: could not send the alerts of ${e.project}/${e.env}: ${(err as Error).message}`);
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────

  /** The environment's notifier when it has an outbox in the store (opened without a configuration if need be). */
  private async existing(project: string, env: string): Promise<EnvNotify | undefined> {
    const found = this.envs.get(keyOf(project, env));
    if (found || this.closed) return found;
    await this.ready();
    const row = await findOutbox(this.opts.store.outbox, project, env);
    if (!row) return undefined;
    return (
      this.envs.get(keyOf(project, env)) ??
      this.adopt(project, env, this.configOf(row), row.alerts ?? undefined)
    );
  }

  private configOf(row: HubRow): AlertsConfig {
    return row.alerts ? rehydrated(row, this.opts.vars ?? process.env, this.log) : EMPTY;
  }

  private adopt(project: string, env: string, config: AlertsConfig, persisted?: string): EnvNotify {
    const notifier = new Notifier({
      store: this.opts.store,
      project,
      env,
      config,
      logger: this.log,
      retry: this.opts.retry,
      onStoreError: (e) => this.outage.down(e),
    });
    notifier.start();
    const e: EnvNotify = { project, env, notifier, config, persisted, redact: (s) => s, dirty: false };
    this.envs.set(keyOf(project, env), e);
    return e;
  }
}

export type { AlertTestResult, DeliveryView } from "./hub-types.js";

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
