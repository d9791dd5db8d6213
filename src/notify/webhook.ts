/**
 * Generic webhook: a versioned JSON payload, signed. Receivers verify
 * X-Slipway-Signature = "sha256=" + hex(HMAC-SHA256(secret, raw body)), reject a
 * X-Slipway-Timestamp (also in the body, so it is signed) older than a few minutes, and may
 * dedupe on X-Slipway-Delivery, which stays the same across retries of one delivery.
 */
import type { z } from "zod";
import type { webhookChannelSchema } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { post } from "./http.js";
import { title } from "./render.js";
import { sign, WEBHOOK_PAYLOAD_VERSION } from "./webhook-signature.js";
import type { Notification } from "./types.js";

export type WebhookConfig = z.output<typeof webhookChannelSchema>;

export function webhookPayload(n: Notification, receiver: string, deliveryId: number, timestamp: number) {
  return {
    version: WEBHOOK_PAYLOAD_VERSION,
    deliveryId,
    notificationId: n.id,
    receiver,
    timestamp,
    status: n.status,
    test: n.test ?? false,
    title: title(n),
    groupKey: n.groupKey,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    alerts: n.alerts,
  };
}

export class WebhookChannel implements Channel {
  readonly type = "webhook" as const;
  constructor(
    readonly name: string,
    private readonly cfg: WebhookConfig,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async send(n: Notification, ctx: DeliveryContext): Promise<SendResult> {
    const ts = Math.floor(this.nowMs() / 1000);
    const body = JSON.stringify(webhookPayload(n, this.name, ctx.deliveryId, ts));
    const headers: Record<string, string> = {
      ...(this.cfg.headers ?? {}),
      "content-type": "application/json",
      "user-agent": "slipway-notify",
      "x-slipway-timestamp": String(ts),
      "x-slipway-delivery": String(ctx.deliveryId),
      "x-slipway-attempt": String(ctx.attempt),
    };
    if (this.cfg.secret) headers["x-slipway-signature"] = sign(this.cfg.secret, body);
    const res = await post({ url: this.cfg.url, headers, body, timeoutMs: this.cfg.timeout });
    return { detail: res.detail };
  }

  secrets(): string[] {
    const out = [this.cfg.url];
    if (this.cfg.secret) out.push(this.cfg.secret);
    for (const v of Object.values(this.cfg.headers ?? {})) if (v.length >= 8) out.push(v);
    return out;
  }
}
