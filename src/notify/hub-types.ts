/** What the hub answers for `slipway alerts list` and `slipway alerts test`. */
import type { DeliveryStatus } from "./notifier-types.js";
import type { Silence } from "./silences.js";
import type { Severity } from "./types.js";

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
