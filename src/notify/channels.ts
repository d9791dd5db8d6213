/** The one factory that builds concrete channels from the spec (DESIGN §3: nothing else imports them). */
import type { ChannelConfig } from "../spec/schema-alerts.js";
import type { Channel } from "./channel.js";
import { EmailChannel } from "./email.js";
import { PagerDutyChannel } from "./pagerduty.js";
import { SlackChannel } from "./slack.js";
import { SmsChannel } from "./sms.js";
import { VoiceChannel } from "./voice.js";
import { WebhookChannel } from "./webhook.js";

export function createChannel(name: string, cfg: ChannelConfig, now: () => number = Date.now): Channel {
  switch (cfg.type) {
    case "slack":
      return new SlackChannel(name, cfg);
    case "webhook":
      return new WebhookChannel(name, cfg, now);
    case "email":
      return new EmailChannel(name, cfg);
    case "sms":
      return new SmsChannel(name, cfg);
    case "voice":
      return new VoiceChannel(name, cfg);
    case "pagerduty":
      return new PagerDutyChannel(name, cfg);
  }
}
