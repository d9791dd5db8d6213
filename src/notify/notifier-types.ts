/** The notifier's options and the records its queries return. */
import type { Logger } from "../logger.js";
import type { AlertsConfig } from "../spec/schema-alerts.js";
import type { Channel } from "./channel.js";
import type { Store } from "../store/store.js";
import type { DeliveryRow } from "./outbox.js";
import type { SilenceStore } from "./silences.js";

/** What a notifier needs of the store: the outbox tables and the silences. */
export type NotifyStore = Pick<Store, "outbox"> & SilenceStore;

export interface RetryPolicy {
  /** First delay after a failure (default 1s); doubles per consecutive failure of the receiver. */
  initialMs: number;
  /** Longest delay between attempts (default 5m). */
  maxMs: number;
  /** A delivery still failing this long after it was queued is marked failed (default 24h). */
  giveUpAfterMs: number;
}

export interface NotifierOptions {
  /** The store: this environment's outbox and its silences live there. */
  store: NotifyStore;
  /** The environment this notifier serves (its outbox is created when missing). */
  project: string;
  env: string;
  config: AlertsConfig;
  /** Where silences are read and written instead of the store (a test's failing store). */
  silences?: SilenceStore;
  /** Called when the store cannot be reached (the hub spools alerts meanwhile). */
  onStoreError?: (e: unknown) => void;
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
