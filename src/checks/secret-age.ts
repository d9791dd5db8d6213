/**
 * `secretAge`: each named secret's current value has been in use for less than its maximum age.
 * The age runs from when Slipway first saw the value (recorded by the engine as a keyed hash,
 * never the value): within the warning window it warns, past the age it fails.
 */
import type { SecretAgeCheckSpec } from "../spec/schema-checks.js";
import { failed, passed, type CheckOutcome, type CheckRun } from "./types.js";

const DAY = 86_400_000;
/** Warn this long before a secret reaches its maximum age (half the age when that is shorter). */
export const SECRET_WARN_MS = 14 * DAY;

export const warnWindow = (maxAgeMs: number) => Math.min(SECRET_WARN_MS, maxAgeMs / 2);

export interface SecretAgeRow {
  name: string;
  source: string;
  firstSeen: string;
  ageDays: number;
  maxAgeDays: number;
  daysLeft: number;
  state: "ok" | "expiring" | "expired";
}

export function secretAgeRow(
  name: string,
  seen: { firstSeen: string; source: string },
  maxAgeMs: number,
  now: Date,
): SecretAgeRow {
  // A value first seen during this very check is recorded a moment after `now` was taken: age 0,
  // never "-1 day(s) old".
  const age = Math.max(0, now.getTime() - new Date(seen.firstSeen).getTime());
  const left = maxAgeMs - age;
  return {
    name,
    source: seen.source,
    firstSeen: seen.firstSeen,
    ageDays: Math.floor(age / DAY),
    maxAgeDays: Math.round(maxAgeMs / DAY),
    daysLeft: Math.floor(left / DAY),
    state: left <= 0 ? "expired" : left <= warnWindow(maxAgeMs) ? "expiring" : "ok",
  };
}

export async function secretAgeCheck(
  spec: SecretAgeCheckSpec,
  run: CheckRun,
  now = new Date(),
): Promise<CheckOutcome> {
  const ages = run.ctx.secretAges;
  if (!ages) return failed("secretAge needs Slipway's store (run it through slipway check or deploy)");
  const names = Object.keys(spec.maxAge);
  const seen = await ages(names);
  const missing = names.filter((n) => !seen[n]);
  const rows = names.filter((n) => seen[n]).map((n) => secretAgeRow(n, seen[n]!, spec.maxAge[n], now));
  const line = (r: SecretAgeRow) =>
    `${r.name} (${r.source}): ${r.ageDays} day(s) old, max ${r.maxAgeDays}` +
    (r.state === "expired"
      ? ` — ${-r.daysLeft} day(s) past its age: rotate it`
      : r.state === "expiring"
        ? ` — ${r.daysLeft} day(s) left: rotate it soon`
        : "");
  const evidence = [
    ...rows.map(line),
    ...missing.map((n) => `${n}: no value here (not in an env file, the caller's environment or the spec)`),
  ].join("\n");
  const details = { secrets: rows, missing };
  const summaryLines = rows.length + missing.length;
  if (missing.length || rows.some((r) => r.state === "expired"))
    return { ...failed(evidence, details), summaryLines };
  if (rows.some((r) => r.state === "expiring")) return { status: "warning", evidence, details, summaryLines };
  return { ...passed(evidence, details), summaryLines };
}
