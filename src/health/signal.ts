/** Deadline handling shared by probes and checks. */

/** A signal that aborts after `timeoutMs` or when `parent` aborts, whichever comes first. */
export function deadline(timeoutMs: number, parent?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
  return parent ? AbortSignal.any([parent, t]) : t;
}

/** Why a signal aborted, in words fit for evidence. */
export function abortReason(signal: AbortSignal, timeoutMs: number): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === "TimeoutError") return `timed out after ${formatMs(timeoutMs)}`;
  return "cancelled";
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}

/** Resolves after `ms` or when the signal aborts (never rejects). */
export { sleep } from "../util/sleep.js";
