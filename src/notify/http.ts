/** The one HTTP sender the HTTP channels share: timeout, status → retryable, no URL in errors. */
import { DeliveryError } from "./channel.js";
import type { SendResult } from "./channel.js";

export interface HttpRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Statuses counted as success (default: any 2xx). */
  ok?: (status: number) => boolean;
}

/** 408, 425, 429 and 5xx are worth retrying; other 4xx are configuration errors. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

export async function post(req: HttpRequest): Promise<SendResult & { status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: "POST",
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: "error",
    });
  } catch (e) {
    // Errors from fetch may quote the URL; say what happened without it.
    throw new DeliveryError(describeFetchError(e, req.timeoutMs), true);
  }
  const text = await res.text().catch(() => "");
  const ok = req.ok ? req.ok(res.status) : res.status >= 200 && res.status < 300;
  if (!ok) {
    const ra = Number(res.headers.get("retry-after"));
    throw new DeliveryError(
      `HTTP ${res.status}${text ? `: ${text.slice(0, 200).replace(/\s+/g, " ")}` : ""}`,
      retryableStatus(res.status),
      res.status,
      Number.isFinite(ra) && ra > 0 ? ra : undefined,
    );
  }
  return { detail: `HTTP ${res.status}`, status: res.status, text };
}

function describeFetchError(e: unknown, timeoutMs: number): string {
  if (e instanceof Error) {
    if (e.name === "TimeoutError" || e.name === "AbortError") return `timed out after ${timeoutMs}ms`;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return `connection failed: ${cause.code}`;
    if (cause?.message) return `request failed: ${cause.message}`;
    return `request failed: ${e.message}`;
  }
  return `request failed: ${String(e)}`;
}
