/**
 * The small HTTP client the pull providers share: credentials in a URL become a Basic
 * Authorization header (fetch refuses URLs with credentials) and never appear in messages.
 */
import { errorMessage } from "../errors.js";

export interface HttpResult {
  status: number;
  body: string;
}

/** The URL without user:password@, for messages and records. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "";
      u.password = "";
    }
    for (const k of [...u.searchParams.keys()])
      if (/token|secret|password|key/i.test(k)) u.searchParams.set(k, "redacted");
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}

/** GET a URL. Throws an Error with a redacted, human message on connection or HTTP errors. */
export async function httpGet(
  url: string,
  signal: AbortSignal,
  accept: string,
  /** Statuses returned instead of thrown (besides 2xx), e.g. Prometheus' 400/422 with an error document. */
  alsoAccept: readonly number[] = [],
): Promise<HttpResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid URL "${redactUrl(url)}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new Error(`unsupported URL scheme ${u.protocol} (expected http or https)`);
  const headers: Record<string, string> = { accept };
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    u.username = "";
    u.password = "";
  }
  let res: Response;
  try {
    res = await fetch(u, { headers, signal, redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    const why = signal.aborted ? "timed out or aborted" : errorMessage(cause ?? e);
    throw new Error(`GET ${redactUrl(url)}: ${why}`);
  }
  const body = await res.text();
  if ((res.status < 200 || res.status > 299) && !alsoAccept.includes(res.status)) {
    throw new Error(`GET ${redactUrl(url)}: HTTP ${res.status}${body ? ` ${snippet(body)}` : ""}`);
  }
  return { status: res.status, body };
}

export function snippet(s: string, max = 200): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
