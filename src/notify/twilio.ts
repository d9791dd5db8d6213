/** Twilio REST shape shared by SMS and voice: form-encoded POST with basic auth, one per number. */
import type { z } from "zod";
import type { smsChannelSchema } from "../spec/schema-alerts.js";
import type { DeliveryContext, SendResult } from "./channel.js";
import { post } from "./http.js";

export type TwilioConfig = Omit<z.output<typeof smsChannelSchema>, "type">;

/** Sends `params(to)` to every number not yet reached, recording each one as it succeeds. */
export async function twilioSend(
  cfg: TwilioConfig,
  resource: "Messages" | "Calls",
  params: (to: string) => Record<string, string>,
  ctx: DeliveryContext,
): Promise<SendResult> {
  const base = cfg.apiBase.replace(/\/+$/, "");
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(cfg.accountSid)}/${resource}.json`;
  const auth = Buffer.from(`${cfg.accountSid}:${cfg.token}`).toString("base64");
  let sent = 0;
  for (const to of cfg.to) {
    if (ctx.done.has(to)) continue;
    await post({
      url,
      headers: { authorization: `Basic ${auth}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params(to)).toString(),
      timeoutMs: cfg.timeout,
    });
    ctx.markDone(to);
    sent++;
  }
  return { detail: `${resource === "Calls" ? "calls" : "messages"} created: ${sent}/${cfg.to.length}` };
}

export function twilioSecrets(cfg: TwilioConfig): string[] {
  return [cfg.token, Buffer.from(`${cfg.accountSid}:${cfg.token}`).toString("base64")];
}
