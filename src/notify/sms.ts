/** SMS through Twilio's Messages API. */
import type { z } from "zod";
import type { smsChannelSchema } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { short } from "./render.js";
import { twilioSecrets, twilioSend } from "./twilio.js";
import type { Notification } from "./types.js";

export type SmsConfig = z.output<typeof smsChannelSchema>;

export class SmsChannel implements Channel {
  readonly type = "sms" as const;
  constructor(
    readonly name: string,
    private readonly cfg: SmsConfig,
  ) {}

  send(n: Notification, ctx: DeliveryContext): Promise<SendResult> {
    const text = short(n, 320);
    return twilioSend(this.cfg, "Messages", (to) => ({ To: to, From: this.cfg.from, Body: text }), ctx);
  }

  secrets(): string[] {
    return twilioSecrets(this.cfg);
  }
}
