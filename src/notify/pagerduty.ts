/** PagerDuty Events API v2: trigger while a group fires, resolve when it resolves. */
import type { z } from "zod";
import type { pagerdutyChannelSchema } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { post } from "./http.js";
import { body, title, topSeverity } from "./render.js";
import type { Notification } from "./types.js";

export type PagerDutyConfig = z.output<typeof pagerdutyChannelSchema>;

export function pagerdutyEvent(n: Notification, routingKey: string) {
  // One incident per group, like Alertmanager: the group key is the dedup_key.
  const dedupKey = `slipway-${n.groupKey}`;
  if (n.status === "resolved")
    return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  const l = n.commonLabels;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: title(n).slice(0, 1024),
      source: [l.project, l.environment].filter(Boolean).join("/") || "slipway",
      severity: topSeverity(n),
      timestamp: n.alerts[0]?.startsAt ?? n.createdAt,
      ...(l.service ? { component: l.service } : {}),
      ...(l.environment ? { group: l.environment } : {}),
      ...(l.event ? { class: l.event } : {}),
      custom_details: { alerts: body(n), firing: n.alerts.filter((a) => a.status === "firing").length },
    },
  };
}

export class PagerDutyChannel implements Channel {
  readonly type = "pagerduty" as const;
  constructor(
    readonly name: string,
    private readonly cfg: PagerDutyConfig,
  ) {}

  async send(n: Notification, _ctx: DeliveryContext): Promise<SendResult> {
    const res = await post({
      url: this.cfg.url,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pagerdutyEvent(n, this.cfg.routingKey)),
      timeoutMs: this.cfg.timeout,
    });
    return { detail: res.detail };
  }

  secrets(): string[] {
    return [this.cfg.routingKey];
  }
}
