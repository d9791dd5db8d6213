/**
 * Every channel kind runs the conformance suite (src/notify/channel.case.ts) against the real
 * local receivers the other notify tests use: HTTP servers in the Slack, webhook, Twilio and
 * PagerDuty shapes, and an SMTP server with STARTTLS and auth.
 */
import { createChannel } from "../../src/notify/channels.js";
import { runChannelConformance } from "../../src/notify/channel.case.js";
import type { ChannelFixture, ReceiverMode } from "../../src/notify/channel.case.js";
import { alertsSchema } from "../../src/spec/schema-alerts.js";
import type { AlertsInput } from "../../src/spec/schema-alerts.js";

type ChannelInput = NonNullable<AlertsInput["channels"]>[string];
import { startHttpReceiver, startSmtp } from "../support/receivers.js";
import type { HttpReceiver, ReceivedRequest } from "../support/receivers.js";

function channelOf(cfg: ChannelInput) {
  const parsed = alertsSchema.parse({ channels: { conformance: cfg } }).channels.conformance;
  if (!parsed) throw new Error("channel config did not parse");
  return createChannel("conformance", parsed);
}

const text = (r: ReceivedRequest) =>
  `${r.method} ${r.path}\n${Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join("\n")}\n\n${r.body}`;

/** An HTTP receiver: 200 (or `okStatus`), 400 permanent, 503 temporary, down = connection refused. */
async function httpFixture(
  okStatus: number,
  build: (r: HttpReceiver) => { cfg: ChannelInput; credentials: string[] },
  extra: Partial<Pick<ChannelFixture, "keyOf" | "recipients">> = {},
): Promise<ChannelFixture> {
  const r = await startHttpReceiver({ status: okStatus });
  const { cfg, credentials } = build(r);
  const status: Record<Exclude<ReceiverMode, "down">, number> = {
    ok: okStatus,
    permanent: 400,
    temporary: 503,
  };
  return {
    channel: channelOf(cfg),
    credentials,
    received: () => r.requests.map(text),
    async setMode(mode) {
      if (mode === "down") return r.down();
      await r.up();
      r.status = status[mode];
    },
    close: () => r.close(),
    ...extra,
  };
}

const header = (name: string) => (t: string) => new RegExp(`^${name}: (.+)$`, "mi").exec(t)?.[1];
const formTo = (t: string) => new URLSearchParams(t.slice(t.indexOf("\n\n") + 2)).get("To") ?? undefined;
const TWILIO_TOKEN = "twilio-token-conformance";

runChannelConformance("slack", () =>
  httpFixture(200, (r) => ({
    cfg: { type: "slack", url: `${r.url}/services/T000/B000/SLACKSECRET` },
    credentials: ["SLACKSECRET"],
  })),
);

runChannelConformance("webhook", () =>
  httpFixture(
    200,
    (r) => ({
      cfg: {
        type: "webhook",
        url: `${r.url}/hook`,
        secret: "whsec-conformance",
        headers: { authorization: "Bearer hook-token-conformance" },
      },
      credentials: ["whsec-conformance", "Bearer hook-token-conformance"],
    }),
    { keyOf: header("x-slipway-delivery") },
  ),
);

runChannelConformance("sms", () =>
  httpFixture(
    201,
    (r) => ({
      cfg: {
        type: "sms",
        accountSid: "AC123",
        token: TWILIO_TOKEN,
        from: "+15550001",
        to: ["+821000000001", "+821000000002", "+821000000003"],
        apiBase: r.url,
      },
      credentials: [TWILIO_TOKEN],
    }),
    { recipients: { all: ["+821000000001", "+821000000002", "+821000000003"], of: formTo } },
  ),
);

runChannelConformance("voice", () =>
  httpFixture(
    201,
    (r) => ({
      cfg: {
        type: "voice",
        accountSid: "AC123",
        token: TWILIO_TOKEN,
        from: "+15550001",
        to: ["+821000000001", "+821000000002"],
        apiBase: r.url,
      },
      credentials: [TWILIO_TOKEN],
    }),
    { recipients: { all: ["+821000000001", "+821000000002"], of: formTo } },
  ),
);

// PagerDuty's dedup_key is the group key (one incident per group), not the delivery id.
runChannelConformance("pagerduty", () =>
  httpFixture(202, (r) => ({
    cfg: { type: "pagerduty", routingKey: "pd-routing-key-conformance", url: `${r.url}/v2/enqueue` },
    credentials: ["pd-routing-key-conformance"],
  })),
);

runChannelConformance("email", async () => {
  const pass = "smtp-pa$$-conformance";
  const smtp = await startSmtp("alerts@example.com", pass);
  return {
    channel: channelOf({
      type: "email",
      smtp: smtp.url,
      from: "slipway@example.com",
      to: ["ops@example.com"],
      tlsVerify: false, // the test server's certificate is self-signed
      timeout: "2s",
    }),
    credentials: [pass],
    received: () => smtp.mails.map((m) => m.raw),
    async setMode(mode) {
      if (mode === "down") return smtp.down();
      await smtp.up();
      smtp.rejectCode = mode === "permanent" ? 554 : mode === "temporary" ? 451 : 0;
    },
    keyOf: header("message-id"),
    close: () => smtp.close(),
  };
});
