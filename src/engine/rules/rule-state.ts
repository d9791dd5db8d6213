/**
 * One standing rule's state, as Prometheus keeps an alerting rule's: inactive → pending (the
 * condition holds, `for` has not passed) → firing; back to inactive when the condition no longer
 * holds. An evaluation is one measurement of the rule's metric judged as in a rollout's
 * analysis (judge()): fail = the condition holds, pass = it does not, inconclusive (fewer
 * samples than minSamples, no data under `noData: inconclusive`) leaves the state as it is, and
 * an error (provider down) leaves it too but marks the rule's health `error`.
 */
import { judge, type AnalysisMetric, type Measurement } from "../../analysis/index.js";
import type { Rule } from "../../spec/schema-rules.js";

export type RuleState = "inactive" | "pending" | "firing";

export interface RuleStatus {
  name: string;
  service?: string;
  severity: Rule["severity"];
  provider: Rule["provider"];
  query: string;
  max?: number;
  min?: number;
  /** `for` and the evaluation interval, in ms. */
  forMs: number;
  intervalMs: number;
  state: RuleState;
  /** ok: the last evaluation measured; error: it could not (lastError says why); unknown: never evaluated. */
  health: "ok" | "error" | "unknown";
  /** The last measured value (base units: ratio, seconds, bytes) and the samples it stands on. */
  value?: number;
  samples?: number;
  /** The last evaluation had no data. */
  noData?: boolean;
  lastError?: string;
  /** The last verdict in words, e.g. "5.2 % > max 1 %". */
  reason: string;
  /** ISO time the current state began. */
  since: string;
  /** ISO time the condition began to hold (pending and firing). */
  activeAt?: string;
  lastEvaluation?: string;
  evaluationMs?: number;
  evaluations: number;
}

/** The rule as the analysis providers and judge() see it (a metric). */
export function metricOf(rule: Rule): AnalysisMetric {
  return {
    name: rule.name,
    provider: rule.provider,
    query: rule.query,
    ...(rule.max !== undefined ? { max: rule.max } : {}),
    ...(rule.min !== undefined ? { min: rule.min } : {}),
    ...(rule.url !== undefined ? { url: rule.url } : {}),
    ...(rule.service !== undefined ? { service: rule.service } : {}),
    interval: rule.interval,
    failureLimit: 1,
    consecutiveErrorLimit: 1,
    minSamples: rule.minSamples,
    noData: rule.noData,
    severity: "critical",
  };
}

export function initialStatus(rule: Rule, now: number): RuleStatus {
  return {
    name: rule.name,
    ...(rule.service !== undefined ? { service: rule.service } : {}),
    severity: rule.severity,
    provider: rule.provider,
    query: rule.query,
    ...(rule.max !== undefined ? { max: rule.max } : {}),
    ...(rule.min !== undefined ? { min: rule.min } : {}),
    forMs: rule.for,
    intervalMs: rule.interval,
    state: "inactive",
    health: "unknown",
    reason: "not evaluated yet",
    since: new Date(now).toISOString(),
    evaluations: 0,
  };
}

/** A kept status brought up to date with the rule's current definition (thresholds, severity). */
export function carryStatus(prev: RuleStatus | undefined, rule: Rule, now: number): RuleStatus {
  const fresh = initialStatus(rule, now);
  if (!prev) return fresh;
  const { state, health, value, samples, noData, lastError, reason, since, activeAt, lastEvaluation } = prev;
  return {
    ...fresh,
    state,
    health,
    reason,
    since,
    evaluations: prev.evaluations,
    ...(value !== undefined ? { value } : {}),
    ...(samples !== undefined ? { samples } : {}),
    ...(noData ? { noData } : {}),
    ...(lastError !== undefined ? { lastError } : {}),
    ...(activeAt !== undefined ? { activeAt } : {}),
    ...(lastEvaluation !== undefined ? { lastEvaluation } : {}),
  };
}

export type Transition = "fire" | "resolve" | undefined;

/** The status after one evaluation, and whether the rule started or stopped firing. */
export function evaluateRule(
  rule: Rule,
  prev: RuleStatus,
  m: Measurement,
  now: number,
  ms?: number,
): { status: RuleStatus; transition: Transition } {
  const { verdict, reason } = judge(metricOf(rule), m);
  const iso = new Date(now).toISOString();
  const next: RuleStatus = {
    ...prev,
    health: verdict === "error" ? "error" : "ok",
    reason,
    lastEvaluation: iso,
    evaluations: prev.evaluations + 1,
    ...(ms !== undefined ? { evaluationMs: ms } : {}),
  };
  delete next.lastError;
  delete next.noData;
  if (verdict === "error") next.lastError = m.error ?? reason;
  else {
    if (m.value !== undefined && !m.noData) next.value = m.value;
    else delete next.value;
    if (m.samples !== undefined) next.samples = m.samples;
    else delete next.samples;
    if (m.noData) next.noData = true;
  }
  const move = (state: RuleState) => {
    next.state = state;
    next.since = iso;
  };
  let transition: Transition;
  if (verdict === "fail") {
    if (prev.state === "inactive") {
      next.activeAt = iso;
      move("pending");
    }
    const active = Date.parse(next.activeAt ?? iso);
    if (next.state === "pending" && now - active >= rule.for) {
      move("firing");
      transition = "fire";
    }
  } else if (verdict === "pass") {
    if (prev.state === "firing") transition = "resolve";
    if (prev.state !== "inactive") move("inactive");
    delete next.activeAt;
  }
  return { status: next, transition };
}
