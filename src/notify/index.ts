/** The notify module's public surface: what the daemon and the CLI use. */
export { Notifier } from "./notifier.js";
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
} from "./notifier.js";
export type { Silence, SilenceInput } from "./silences.js";
export type { AlertEvent, AlertView, Labels, Notification, Severity } from "./types.js";
export type { Channel, ChannelType, DeliveryContext, SendResult } from "./channel.js";
export { DeliveryError } from "./channel.js";
export { RESOLVES, STATEFUL_KINDS } from "./routing.js";
export { sign as signWebhookBody, WEBHOOK_PAYLOAD_VERSION } from "./webhook-signature.js";
