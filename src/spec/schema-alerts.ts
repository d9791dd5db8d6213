/**
 * The `alerts:` block (issue 6): channels, ordered routes, grouping and timing. Meanings and
 * defaults follow Prometheus Alertmanager (groupWait 30s, groupInterval 5m, repeatInterval 4h)
 * so that people who know Alertmanager need not relearn anything.
 */
import { z } from "zod";
import { duration, name } from "./fields.js";

const recipients = (what: string) =>
  z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .describe(what);

const httpUrl = (description: string) =>
  z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v), "expected an http:// or https:// URL")
    .describe(description);

const timeout = duration("How long one delivery attempt may take before it is retried.").default(10_000);

export const slackChannelSchema = z
  .strictObject({
    type: z.literal("slack"),
    url: httpUrl("The Slack incoming-webhook URL (a secret: use ${SLACK_WEBHOOK_URL})."),
    channel: z.string().optional().describe("Overrides the webhook's default channel, e.g. #ops."),
    username: z.string().optional().describe("Name the message is posted as."),
    timeout,
  })
  .describe("Slack incoming webhook; a route's `mention` adds @channel or @here to firing alerts.");

export const webhookChannelSchema = z
  .strictObject({
    type: z.literal("webhook"),
    url: httpUrl("Where the JSON payload ({version: 1, ...}) is POSTed."),
    secret: z
      .string()
      .optional()
      .describe(
        "HMAC key: every request carries X-Slipway-Signature: sha256=HEX(HMAC-SHA256(secret, body)) " +
          "and X-Slipway-Timestamp.",
      ),
    headers: z.record(z.string(), z.string()).optional().describe("Extra request headers."),
    timeout,
  })
  .describe("A generic HTTP webhook with a versioned, signed JSON payload.");

export const emailChannelSchema = z
  .strictObject({
    type: z.literal("email"),
    smtp: z
      .string()
      .refine((v) => /^smtps?:\/\//i.test(v), "expected an smtp:// or smtps:// URL")
      .describe(
        "SMTP server as a URL: smtp://user:password@host:587 (STARTTLS when the server offers it) " +
          "or smtps://… (TLS from the start). A secret: use ${SMTP_URL}.",
      ),
    from: z.string().min(3).describe("Sender address."),
    to: recipients("Recipient address or list of addresses."),
    requireTLS: z
      .boolean()
      .default(false)
      .describe("Refuse to send when the server does not offer STARTTLS (default: STARTTLS when offered)."),
    tlsVerify: z
      .boolean()
      .default(true)
      .describe("Verify the server's TLS certificate (turn off only for a private test server)."),
    timeout,
  })
  .describe("E-mail over SMTP (nodemailer).");

const twilioFields = {
  accountSid: z.string().min(1).describe("Twilio account SID."),
  token: z.string().min(1).describe("Twilio auth token (a secret: use ${TWILIO_TOKEN})."),
  from: z.string().min(1).describe("Twilio number the message or call comes from."),
  to: recipients("Phone number (E.164) or list of numbers."),
  apiBase: httpUrl("Base URL of the Twilio REST API.").default("https://api.twilio.com"),
  timeout,
};

export const smsChannelSchema = z
  .strictObject({ type: z.literal("sms"), ...twilioFields })
  .describe("SMS through Twilio's REST API (POST …/Accounts/{sid}/Messages.json).");

export const voiceChannelSchema = z
  .strictObject({ type: z.literal("voice"), ...twilioFields })
  .describe("A phone call reading the alert aloud, through Twilio's REST API (POST …/Calls.json).");

export const pagerdutyChannelSchema = z
  .strictObject({
    type: z.literal("pagerduty"),
    routingKey: z
      .string()
      .min(1)
      .describe("Events API v2 integration (routing) key (a secret: use ${PAGERDUTY_KEY})."),
    url: httpUrl("Events API v2 endpoint.").default("https://events.pagerduty.com/v2/enqueue"),
    timeout,
  })
  .describe("PagerDuty Events API v2: trigger on firing, resolve on resolved (one dedup_key per group).");

export const channelSchema = z
  .discriminatedUnion("type", [
    slackChannelSchema,
    webhookChannelSchema,
    emailChannelSchema,
    smsChannelSchema,
    voiceChannelSchema,
    pagerdutyChannelSchema,
  ])
  .describe("A notification channel: slack, webhook, email, sms, voice or pagerduty.");

const matchValue = z
  .union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])
  .transform((v) => (Array.isArray(v) ? v.map(String) : [String(v)]));

export const routeSchema = z
  .strictObject({
    match: z
      .record(z.string(), matchValue)
      .default({})
      .describe(
        "Label matchers, all of which must hold: severity, project, environment, service, event or a " +
          "label from the event's data. A list matches any of its values; a value starting with ! " +
          "negates; an empty match catches everything.",
      ),
    receivers: z.array(z.string()).min(1).describe("Channel names that receive the matching alerts."),
    mention: z
      .enum(["channel", "here"])
      .optional()
      .describe("Slack: mention @channel or @here when alerts fire."),
    continue: z
      .boolean()
      .default(false)
      .describe("Keep matching later routes after this one (default: the first matching route wins)."),
    sendResolved: z.boolean().default(true).describe("Also notify when the alerts of a group resolve."),
    groupBy: z.array(z.string()).optional().describe("Overrides alerts.groupBy for this route."),
    groupWait: duration("Overrides alerts.groupWait for this route.").optional(),
    groupInterval: duration("Overrides alerts.groupInterval for this route.").optional(),
    repeatInterval: duration("Overrides alerts.repeatInterval for this route.").optional(),
  })
  .describe("One route: which alerts (match) go to which channels (receivers).");

export const defaultGroupBy = ["project", "environment", "service", "event"];

export const alertsSchema = z
  .strictObject({
    channels: z
      .record(name, channelSchema)
      .default({})
      .describe("Notification channels by name; routes refer to these names."),
    routes: z
      .array(routeSchema)
      .optional()
      .describe(
        "Ordered routes. An alert goes to the first route that matches (and to later ones while " +
          "`continue` is true). Without routes, every alert goes to every channel.",
      ),
    groupBy: z
      .array(z.string())
      .default(defaultGroupBy)
      .describe(
        "Labels that split alerts into groups; one notification is sent per group. `...` groups by " +
          "every label (no grouping).",
      ),
    groupWait: duration("How long a new group waits for more alerts before its first notification.").default(
      30_000,
    ),
    groupInterval: duration(
      "How long a group waits before notifying about alerts added after its first notification.",
    ).default(300_000),
    repeatInterval: duration(
      "How long before a notification for alerts that are still firing is sent again.",
    ).default(4 * 3_600_000),
  })
  .superRefine((a, ctx) => {
    const names = Object.keys(a.channels);
    a.routes?.forEach((r, i) =>
      r.receivers.forEach((rcv, j) => {
        if (!(rcv in a.channels))
          ctx.addIssue({
            code: "custom",
            path: ["routes", i, "receivers", j],
            message:
              `no channel "${rcv}" in alerts.channels` +
              (names.length ? ` (channels: ${names.join(", ")})` : " (none defined)"),
          });
      }),
    );
  })
  .describe("Alerts: channels, routes by severity and labels, grouping, repeats.");

export type AlertsConfig = z.output<typeof alertsSchema>;
export type AlertsInput = z.input<typeof alertsSchema>;
export type ChannelConfig = z.output<typeof channelSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
