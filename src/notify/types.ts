/** The data the notifier works on: events in, alerts grouped into notifications out. */

export type Severity = "critical" | "warning" | "info";
export type Labels = Record<string, string>;

/**
 * What the notifier accepts: the shape of the store's EventRecord (and of the engine's
 * `alert` events plus project/env). `data.labels` (string values) become extra labels;
 * the rest of `data` travels along as detail.
 */
export interface AlertEvent {
  project: string;
  env: string;
  kind: string;
  severity: Severity;
  message: string;
  service?: string;
  revision?: number;
  /** ISO time of the event (default: now). */
  time?: string;
  data?: Record<string, unknown>;
}

/** One alert as channels see it. */
export interface AlertView {
  status: "firing" | "resolved";
  labels: Labels;
  severity: Severity;
  message: string;
  revision?: number;
  data?: Record<string, unknown>;
  startsAt: string;
  endsAt?: string;
  /** How many identical events were folded into this alert before it was notified. */
  count: number;
  fingerprint: string;
}

/** One message for one group, as handed to a channel (the same for every receiver). */
export interface Notification {
  id: number;
  /** Stable per group (route + group labels); PagerDuty's dedup_key. */
  groupKey: string;
  status: "firing" | "resolved";
  groupLabels: Labels;
  commonLabels: Labels;
  mention?: "channel" | "here";
  alerts: AlertView[];
  createdAt: string;
  /** True for `slipway alerts test`. */
  test?: boolean;
}
