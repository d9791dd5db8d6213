/** How webhook bodies are signed, for Slipway and for receivers that verify them. */
import { createHmac } from "node:crypto";

export const WEBHOOK_PAYLOAD_VERSION = 1;

/** `X-Slipway-Signature`: HMAC-SHA256 of the raw body with the receiver's secret. */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
