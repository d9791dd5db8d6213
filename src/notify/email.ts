/** E-mail over SMTP with nodemailer: STARTTLS when offered (or required), auth from the URL. */
import type { Transporter } from "nodemailer";
import type { z } from "zod";
import type { emailChannelSchema } from "../spec/schema-alerts.js";
import { DeliveryError } from "./channel.js";
import type { Channel, DeliveryContext, SendResult } from "./channel.js";
import { body, title } from "./render.js";
import type { Notification } from "./types.js";

export type EmailConfig = z.output<typeof emailChannelSchema>;

export class EmailChannel implements Channel {
  readonly type = "email" as const;
  private transport?: Transporter;
  private readonly user?: string;
  private readonly pass?: string;

  constructor(
    readonly name: string,
    private readonly cfg: EmailConfig,
  ) {
    const u = new URL(cfg.smtp);
    this.user = u.username ? decodeURIComponent(u.username) : undefined;
    this.pass = u.password ? decodeURIComponent(u.password) : undefined;
  }

  private async getTransport(): Promise<Transporter> {
    if (this.transport) return this.transport;
    const { default: nodemailer } = await import("nodemailer"); // loaded on first use
    const u = new URL(this.cfg.smtp);
    const secure = u.protocol === "smtps:";
    this.transport = nodemailer.createTransport({
      host: u.hostname,
      port: u.port ? Number(u.port) : secure ? 465 : 587,
      secure,
      requireTLS: this.cfg.requireTLS,
      auth: this.user ? { user: this.user, pass: this.pass ?? "" } : undefined,
      tls: { rejectUnauthorized: this.cfg.tlsVerify },
      connectionTimeout: this.cfg.timeout,
      greetingTimeout: this.cfg.timeout,
      socketTimeout: this.cfg.timeout,
      logger: false,
    });
    return this.transport;
  }

  async send(n: Notification, ctx: DeliveryContext): Promise<SendResult> {
    const domain = this.cfg.from.split("@")[1]?.replace(/[>\s]/g, "") || "slipway.local";
    try {
      const info = await (
        await this.getTransport()
      ).sendMail({
        from: this.cfg.from,
        to: this.cfg.to,
        subject: title(n),
        text: `${body(n, 100)}\n\n-- \nslipway - notification ${n.id} - delivery ${ctx.deliveryId}\n`,
        // The same Message-ID on every attempt: a duplicate after a crash collapses in mail clients.
        messageId: `<slipway-delivery-${ctx.deliveryId}@${domain}>`,
        headers: { "X-Slipway-Delivery": String(ctx.deliveryId) },
      });
      return { detail: `SMTP ${String(info.response ?? "accepted").slice(0, 80)}` };
    } catch (e) {
      throw smtpError(e);
    }
  }

  secrets(): string[] {
    const out = [this.cfg.smtp];
    if (this.pass) out.push(this.pass, encodeURIComponent(this.pass));
    return out;
  }

  async close(): Promise<void> {
    this.transport?.close();
    this.transport = undefined;
  }
}

function smtpError(e: unknown): DeliveryError {
  const err = e as { code?: string; responseCode?: number; message?: string };
  const code = err.responseCode;
  // 5xx replies and failed authentication are configuration errors; the rest is transient.
  const permanent = (code !== undefined && code >= 500) || err.code === "EAUTH" || err.code === "EENVELOPE";
  const what = code ? `SMTP ${code}` : err.code ? `SMTP ${err.code}` : "SMTP error";
  return new DeliveryError(`${what}: ${(err.message ?? String(e)).slice(0, 200)}`, !permanent, code);
}
