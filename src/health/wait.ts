/**
 * waitHealthy(): probe a new instance until it is healthy, or give up. Probes start at once and
 * repeat every `interval` (start to start); each may take `timeout`. `healthyThreshold`
 * consecutive successes make the instance healthy. The wait gives up `startTimeout` after the
 * instance started. With `failFast`, `unhealthyThreshold` consecutive failures also end it, but
 * failures during `startPeriod` do not count (Docker's start_period).
 *
 * Until the first success the probes come sooner than `interval`: FIRST_GAP_MS, doubling up to
 * `interval` (Docker's start_interval, without a setting). A release that listens 80 ms after it
 * starts is seen healthy at ~100 ms instead of one whole interval later, which is what a deploy
 * of several dependency layers would otherwise pay per layer. The faster probes never make a
 * failure count sooner: for `failFast` a failure counts only when its probe began one `interval`
 * after the last counted one.
 */
import type { Health } from "../spec/schema.js";
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { formatMs, sleep } from "./signal.js";

/** The first gap between start-up probes; doubled after each failure until it reaches `interval`. */
export const FIRST_GAP_MS = 50;

export type HealthTimings = Pick<
  Health,
  "interval" | "timeout" | "startPeriod" | "startTimeout" | "healthyThreshold" | "unhealthyThreshold"
>;

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called after every probe with its result and the 1-based attempt number. */
  onAttempt?(r: ProbeResult, attempt: number): void;
  /** When the instance started (epoch ms); startPeriod and startTimeout count from it. Default: now. */
  startedAt?: number;
  /** End early after `unhealthyThreshold` consecutive failures past startPeriod. Default false. */
  failFast?: boolean;
  /** Asked after each failed probe; false ends the wait (the instance exited or crash-loops). */
  alive?(): boolean | Promise<boolean>;
}

export interface WaitOutcome {
  healthy: boolean;
  last: ProbeResult;
  attempts: number;
  reason: "healthy" | "timeout" | "unhealthy" | "aborted" | "exited";
  /** One line for humans: "healthy after 3 attempts (2.1s): HTTP 200 …". */
  message: string;
}

export async function waitHealthy(
  probe: Probe,
  target: ProbeTarget,
  health: HealthTimings,
  opts: WaitOptions = {},
): Promise<WaitOutcome> {
  const t0 = opts.startedAt ?? Date.now();
  const giveUpAt = t0 + health.startTimeout;
  const graceUntil = t0 + health.startPeriod;
  let attempts = 0;
  let successes = 0;
  let failures = 0;
  let lastCounted = -Infinity;
  let gap = Math.min(FIRST_GAP_MS, health.interval);
  let seenHealthy = false;
  let last: ProbeResult = { ok: false, message: "not probed", durationMs: 0 };
  /** The last probe that had its whole timeout (the one before the deadline may be cut short). */
  let full: ProbeResult | undefined;
  const done = (reason: WaitOutcome["reason"]): WaitOutcome => {
    // A probe the deadline cut off says only "timed out"; the one before it says why.
    if (reason === "timeout" && full && full !== last && !last.ok)
      last = { ...full, message: `${full.message} (the probe cut off at the deadline: ${last.message})` };
    const took = formatMs(Date.now() - t0);
    const head =
      reason === "healthy"
        ? `healthy after ${attempts} attempt(s) (${took})`
        : reason === "timeout"
          ? `not healthy within ${formatMs(health.startTimeout)} (${attempts} attempt(s))`
          : reason === "unhealthy"
            ? `${failures} consecutive failed probes`
            : reason === "exited"
              ? `instance stopped running after ${attempts} attempt(s)`
              : `wait cancelled after ${attempts} attempt(s)`;
    return { healthy: reason === "healthy", last, attempts, reason, message: `${head}: ${last.message}` };
  };

  for (;;) {
    if (opts.signal?.aborted) return done("aborted");
    const begin = Date.now();
    const remaining = giveUpAt - begin;
    if (remaining <= 0 && attempts > 0) return done("timeout");
    // The last probe before the deadline may not run past it (but the first one always runs in full).
    const timeoutMs = attempts === 0 ? health.timeout : Math.min(health.timeout, remaining);
    last = await probe.check(target, { timeoutMs, signal: opts.signal });
    if (timeoutMs >= health.timeout || last.durationMs < timeoutMs) full = last;
    attempts++;
    opts.onAttempt?.(last, attempts);
    if (opts.signal?.aborted) return done("aborted");
    if (last.ok) {
      seenHealthy = true;
      successes++;
      failures = 0;
      lastCounted = -Infinity;
      if (successes >= health.healthyThreshold) return done("healthy");
    } else {
      successes = 0;
      // Counted by when the probe began; timers may fire a few ms early.
      if (begin >= graceUntil && begin - lastCounted >= health.interval - 5) {
        failures++;
        lastCounted = begin;
      }
      if (opts.failFast && failures >= health.unhealthyThreshold) return done("unhealthy");
      if (opts.alive && !(await opts.alive())) return done("exited");
    }
    const next = begin + (seenHealthy ? health.interval : gap);
    gap = Math.min(gap * 2, health.interval);
    if (next >= giveUpAt) return done("timeout");
    await sleep(next - Date.now(), opts.signal);
  }
}
