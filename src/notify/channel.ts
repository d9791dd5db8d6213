/**
 * The channel contract: one small implementation per kind (slack, webhook, email, sms, voice,
 * pagerduty). A channel turns one Notification into one delivery; the outbox decides when and
 * how often it is called.
 */
import type { Notification } from "./types.js";

export type ChannelType = "slack" | "webhook" | "email" | "sms" | "voice" | "pagerduty";

export interface DeliveryContext {
  /** The outbox row id: the idempotency key receivers may dedupe on. */
  deliveryId: number;
  /** Attempt number, 1 for the first. */
  attempt: number;
  /** Recipients already reached by an earlier attempt (multi-recipient channels skip them). */
  done: ReadonlySet<string>;
  /** Record, durably and at once, that one recipient was reached. */
  markDone(recipient: string): void;
}

export interface SendResult {
  /** Short evidence for the delivery log, e.g. "HTTP 200" (never a secret). */
  detail: string;
}

export interface Channel {
  readonly name: string;
  readonly type: ChannelType;
  send(n: Notification, ctx: DeliveryContext): Promise<SendResult>;
  /** Values that must never reach a log line, an error message or the delivery log. */
  secrets(): string[];
  close?(): Promise<void>;
}

/** A failed attempt. `retryable: false` (a 4xx, a bad address) stops retries at once. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    message: string,
    public readonly retryable: boolean,
    public readonly status?: number,
    /** Seconds the receiver asked us to wait (Retry-After). */
    public readonly retryAfterS?: number,
  ) {
    super(message);
  }
}
