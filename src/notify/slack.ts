/** Slack incoming webhook: text with @channel/@here (from the route) when alerts fire. */
import type { z } from "zod";
import type { slackChannelSchema } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { post } from "./http.js";
import { body, title, topSeverity } from "./render.js";
import type { Notification } from "./types.js";

export type SlackConfig = z.output<typeof slackChannelSchema>;

const COLOR = { critical: "#d0021b", warning: "#f5a623", info: "#4a90e2", resolved: "#2eb67d" };

export function slackPayload(n: Notification, cfg: Pick<SlackConfig, "channel" | "username">) {
  const mention = n.status === "firing" && n.mention ? `<!${n.mention}> ` : "";
  const color = n.status === "resolved" ? COLOR.resolved : COLOR[topSeverity(n)];
  return {
    ...(cfg.channel ? { channel: cfg.channel } : {}),
    ...(cfg.username ? { username: cfg.username } : {}),
    text: `${mention}${title(n)}`,
    attachments: [
      { color, text: body(n), footer: "slipway", ts: Math.floor(Date.parse(n.createdAt) / 1000) },
    ],
  };
}

export class SlackChannel implements Channel {
  readonly type = "slack" as const;
  constructor(
    readonly name: string,
    private readonly cfg: SlackConfig,
  ) {}

  async send(n: Notification, _ctx: DeliveryContext): Promise<SendResult> {
    const res = await post({
      url: this.cfg.url,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(slackPayload(n, this.cfg)),
      timeoutMs: this.cfg.timeout,
    });
    return { detail: res.detail };
  }

  secrets(): string[] {
    return [this.cfg.url];
  }
}
