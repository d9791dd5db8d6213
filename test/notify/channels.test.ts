/**
 * Every channel end to end: events go through routing and the outbox to real local servers
 * (HTTP receivers in Slack, webhook, Twilio and PagerDuty shapes; a real SMTP server).
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/ports.js";
import { ev, harness } from "./helpers.js";
import type { Harness } from "./helpers.js";
import { startHttpReceiver, startSmtp } from "../support/receivers.js";
import type { HttpReceiver, SmtpReceiver } from "../support/receivers.js";

const HOOK_SECRET = "whsec-0123456789abcdef";
const TWILIO_TOKEN = "twilio-token-s3cr3t";
const PD_KEY = "pd-routing-key-abcdef";
const SMTP_PASS = "smtp-pa$$word";

let slack: HttpReceiver, hook: HttpReceiver, twilio: HttpReceiver, pd: HttpReceiver, smtp: SmtpReceiver;
let h: Harness;

beforeAll(async () => {
  [slack, hook, twilio, pd] = await Promise.all([
    startHttpReceiver(),
    startHttpReceiver(),
    startHttpReceiver({ status: 201 }),
    startHttpReceiver({ status: 202 }),
  ]);
  smtp = await startSmtp("alerts@example.com", SMTP_PASS);
  h = harness({
    channels: {
      "slack-ops": { type: "slack", url: `${slack.url}/services/T000/B000/XXXXSECRET`, username: "slipway" },
      hooks: { type: "webhook", url: `${hook.url}/hook`, secret: HOOK_SECRET },
      "email-ops": {
        type: "email",
        smtp: smtp.url,
        from: "slipway@example.com",
        to: ["ops@example.com", "lead@example.com"],
        tlsVerify: false, // the test server's certificate is self-signed
      },
      "oncall-sms": {
        type: "sms",
        accountSid: "AC123",
        token: TWILIO_TOKEN,
        from: "+15550001",
        to: ["+821000000001", "+821000000002"],
        apiBase: twilio.url,
      },
      "oncall-call": {
        type: "voice",
        accountSid: "AC123",
        token: TWILIO_TOKEN,
        from: "+15550001",
        to: "+821000000001",
        apiBase: twilio.url,
      },
      pager: { type: "pagerduty", routingKey: PD_KEY, url: `${pd.url}/v2/enqueue` },
    },
    routes: [
      {
        match: { severity: "critical" },
        receivers: ["oncall-call", "oncall-sms", "slack-ops", "pager", "hooks"],
        mention: "channel",
      },
      { match: { severity: "warning" }, receivers: ["slack-ops", "email-ops"], mention: "here" },
    ],
    groupWait: "100ms",
    groupInterval: "200ms",
  });
});

afterAll(async () => {
  await h?.close();
  await Promise.all([slack, hook, twilio, pd].map((r) => r?.close()));
  await smtp?.close();
});

const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

describe("channels", () => {
  it("delivers a critical alert to voice, SMS, Slack @channel, PagerDuty and the signed webhook", async () => {
    const res = await h.notifier.emit(
      ev({ kind: "deploy.failed", service: "api", revision: 7, message: "revision 7 failed: health check" }),
    );
    expect(res).toEqual({ accepted: true, routes: 1, resolved: 0 });
    await waitFor(
      () => twilio.requests.length >= 3 && slack.requests.length >= 1 && pd.requests.length >= 1,
      {
        what: "critical deliveries",
      },
    );
    await waitFor(() => hook.requests.length >= 1, { what: "webhook" });

    // Twilio: one call, two messages, basic auth, form-encoded.
    const calls = twilio.requests.filter((r) => r.path === "/2010-04-01/Accounts/AC123/Calls.json");
    const msgs = twilio.requests.filter((r) => r.path === "/2010-04-01/Accounts/AC123/Messages.json");
    expect(calls).toHaveLength(1);
    expect(msgs.map((m) => new URLSearchParams(m.body).get("To")).sort()).toEqual([
      "+821000000001",
      "+821000000002",
    ]);
    for (const r of [...calls, ...msgs]) {
      expect(r.method).toBe("POST");
      expect(r.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(r.headers.authorization).toBe(
        `Basic ${Buffer.from(`AC123:${TWILIO_TOKEN}`).toString("base64")}`,
      );
      expect(new URLSearchParams(r.body).get("From")).toBe("+15550001");
    }
    expect(new URLSearchParams(msgs[0].body).get("Body")).toContain("revision 7 failed");
    const twiml = new URLSearchParams(calls[0].body).get("Twiml") ?? "";
    expect(twiml).toMatch(/^<Response><Say>.*revision 7 failed.*<\/Say>/);

    // Slack: @channel on a critical route.
    expect(slack.requests[0].path).toBe("/services/T000/B000/XXXXSECRET");
    const s = json(slack.requests[0].body);
    expect(s.text).toMatch(/^<!channel> \[FIRING\] critical \| deploy\.failed \| shop\/production api/);
    expect(s.username).toBe("slipway");

    // PagerDuty Events v2 trigger.
    const p = json(pd.requests[0].body) as {
      routing_key: string;
      event_action: string;
      dedup_key: string;
      payload: Record<string, unknown>;
    };
    expect(p.routing_key).toBe(PD_KEY);
    expect(p.event_action).toBe("trigger");
    expect(p.dedup_key).toMatch(/^slipway-[0-9a-f]{32}$/);
    expect(p.payload).toMatchObject({ severity: "critical", source: "shop/production", component: "api" });

    // Webhook: versioned payload, HMAC over the raw body, timestamp header = signed body field.
    const w = hook.requests[0];
    const expected = `sha256=${createHmac("sha256", HOOK_SECRET).update(w.body).digest("hex")}`;
    expect(w.headers["x-slipway-signature"]).toBe(expected);
    const body = json(w.body);
    expect(body.version).toBe(1);
    expect(String(body.timestamp)).toBe(w.headers["x-slipway-timestamp"]);
    expect(String(body.deliveryId)).toBe(w.headers["x-slipway-delivery"]);
    expect(body.status).toBe("firing");
    expect(body.alerts).toMatchObject([
      {
        status: "firing",
        severity: "critical",
        revision: 7,
        labels: { project: "shop", environment: "production", service: "api", event: "deploy.failed" },
      },
    ]);
    // A tampered body does not verify.
    const forged = `sha256=${createHmac("sha256", HOOK_SECRET).update(w.body.replace("firing", "resolved")).digest("hex")}`;
    expect(forged).not.toBe(w.headers["x-slipway-signature"]);

    await h.notifier.flush();
    const log = await h.notifier.listDeliveries();
    expect(
      log
        .filter((d) => d.status === "sent")
        .map((d) => d.receiver)
        .sort(),
    ).toEqual(["hooks", "oncall-call", "oncall-sms", "pager", "slack-ops"].sort());
    expect(slack.requests).toHaveLength(1);
    expect(msgs).toHaveLength(2);
  });

  it("sends a warning to Slack @here and by e-mail over STARTTLS with SMTP auth", async () => {
    const before = slack.requests.length;
    h.notifier.emit(
      ev({ kind: "health.degraded", severity: "warning", service: "worker", message: "worker is slow" }),
    );
    await waitFor(() => smtp.mails.length >= 1 && slack.requests.length > before, {
      what: "warning deliveries",
    });
    const mail = smtp.mails[0];
    expect(mail.secure).toBe(true); // upgraded with STARTTLS before AUTH
    expect(mail.user).toBe("alerts@example.com");
    expect(mail.from).toBe("slipway@example.com");
    expect(mail.to.sort()).toEqual(["lead@example.com", "ops@example.com"]);
    expect(mail.raw).toMatch(/^Subject: \[FIRING\] warning \| health\.degraded \| shop\/production worker/m);
    expect(mail.raw).toMatch(/^Message-ID: <slipway-delivery-\d+@example\.com>/im);
    expect(mail.raw).toContain("worker is slow");
    expect(json(slack.requests[before].body).text).toMatch(/^<!here> /);
    // Warnings do not page.
    expect(pd.requests.filter((r) => r.body.includes("worker is slow"))).toHaveLength(0);
  });

  it("resolves: health.recovered closes the PagerDuty incident with the same dedup_key", async () => {
    const pdBefore = pd.requests.length;
    const hookBefore = hook.requests.length;
    h.notifier.emit(ev({ kind: "health.degraded", service: "db", message: "db unhealthy" }));
    await waitFor(() => pd.requests.length > pdBefore, { what: "trigger" });
    const trigger = json(pd.requests[pdBefore].body);
    expect(trigger.event_action).toBe("trigger");

    const r = await h.notifier.emit(
      ev({ kind: "health.recovered", severity: "info", service: "db", message: "db ok" }),
    );
    expect(r).toEqual({ accepted: true, routes: 0, resolved: 1 });
    await waitFor(() => pd.requests.length > pdBefore + 1, { what: "resolve" });
    const resolve = json(pd.requests[pdBefore + 1].body);
    expect(resolve).toEqual({ routing_key: PD_KEY, event_action: "resolve", dedup_key: trigger.dedup_key });

    await waitFor(() => hook.requests.length >= hookBefore + 2, { what: "webhook resolved" });
    const last = json(hook.requests[hookBefore + 1].body) as { status: string; alerts: { status: string }[] };
    expect(last.status).toBe("resolved");
    expect(last.alerts.map((a) => a.status)).toEqual(["resolved"]);
    // A recovered event with nothing open is not an alert.
    expect(
      (await h.notifier.emit(ev({ kind: "health.recovered", severity: "info", service: "db" }))).accepted,
    ).toBe(false);
  });

  it("`alerts test` goes through the routes at once", async () => {
    const before = slack.requests.length;
    const t = await h.notifier.sendTest({ project: "shop", env: "staging", severity: "warning" });
    expect(t.receivers.sort()).toEqual(["email-ops", "slack-ops"]);
    await h.notifier.flush({ groups: false });
    expect(json(slack.requests[before].body).text).toMatch(/^<!here> \[TEST\] warning/);
    expect(
      (await h.notifier.sendTest({ project: "shop", env: "staging", severity: "info" })).receivers,
    ).toEqual([]);
  });

  it("never puts secrets in the delivery log or the logs", async () => {
    const hookSecrets = [HOOK_SECRET, TWILIO_TOKEN, PD_KEY, SMTP_PASS, "XXXXSECRET"];
    const dump = JSON.stringify([
      await h.notifier.listDeliveries({ limit: 1000 }),
      h.logs,
      await h.store.outbox.all("SELECT * FROM outbox_notifications"),
      await h.store.outbox.all("SELECT * FROM outbox_attempts"),
    ]);
    for (const s of hookSecrets) expect(dump).not.toContain(s);
  });
});

describe("failures", () => {
  it("redacts the URL from errors, retries while down, and stops at a 4xx", async () => {
    const down = await startHttpReceiver();
    await down.down();
    const bad = await startHttpReceiver({ status: 400 });
    const f = harness({
      channels: {
        gone: { type: "slack", url: `${down.url}/services/T1/B1/TOPSECRETTOKEN` },
        wrong: { type: "webhook", url: `${bad.url}/x?token=querysecret123` },
      },
      groupWait: 0,
    });
    try {
      f.notifier.emit(ev({ kind: "deploy.failed" }));
      await waitFor(
        async () =>
          (await f.notifier.listDeliveries()).find((d) => d.receiver === "wrong")?.status === "failed",
        {
          what: "4xx gives up",
        },
      );
      await waitFor(
        async () =>
          ((await f.notifier.listDeliveries()).find((d) => d.receiver === "gone")?.attempts ?? 0) >= 2,
        {
          what: "retries",
        },
      );
      const gone = (await f.notifier.listDeliveries()).find((d) => d.receiver === "gone");
      expect(gone?.status).toMatch(/pending|sending/);
      expect(gone?.lastError).toMatch(/ECONNREFUSED/);
      const wrong = (await f.notifier.listDeliveries()).find((d) => d.receiver === "wrong");
      expect(wrong?.attempts).toBe(1);
      expect(wrong?.lastError).toMatch(/^HTTP 400/);
      expect(f.logs.some((l) => l.level === "warn" && l.msg.includes("retrying"))).toBe(true);
      expect(f.logs.some((l) => l.level === "error" && l.msg.includes("giving up"))).toBe(true);
      const dump = JSON.stringify([
        f.logs,
        await f.notifier.listDeliveries(),
        await f.store.outbox.all("SELECT * FROM outbox_attempts"),
      ]);
      expect(dump).not.toContain("TOPSECRETTOKEN");
      expect(dump).not.toContain("querysecret123");
      expect(bad.requests).toHaveLength(1);
    } finally {
      await f.close();
      await bad.close();
    }
  });
});
