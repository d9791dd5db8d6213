/** A phone call that reads the alert aloud, through Twilio's Calls API (inline TwiML). */
import type { z } from "zod";
import type { voiceChannelSchema } from "../spec/schema-alerts.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { short } from "./render.js";
import { twilioSecrets, twilioSend } from "./twilio.js";
import type { Notification } from "./types.js";

export type VoiceConfig = z.output<typeof voiceChannelSchema>;

const xml = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c,
  );

export function twiml(n: Notification): string {
  // Said twice: the first words of a call are often missed.
  const text = xml(short(n, 400).replace(/[[\]|]/g, " "));
  return `<Response><Say>${text}</Say><Pause length="1"/><Say>${text}</Say></Response>`;
}

export class VoiceChannel implements Channel {
  readonly type = "voice" as const;
  constructor(
    readonly name: string,
    private readonly cfg: VoiceConfig,
  ) {}

  send(n: Notification, ctx: DeliveryContext): Promise<SendResult> {
    const tw = twiml(n);
    return twilioSend(this.cfg, "Calls", (to) => ({ To: to, From: this.cfg.from, Twiml: tw }), ctx);
  }

  secrets(): string[] {
    return twilioSecrets(this.cfg);
  }
}
