/** The rule state machine: inactive → pending → firing after `for`, back to inactive; no data and errors. */
import { describe, expect, it } from "vitest";
import { ruleSchema } from "../../spec/schema-rules.js";
import { evaluateRule, initialStatus, type RuleStatus } from "./rule-state.js";

const rule = (extra: Record<string, unknown> = {}) =>
  ruleSchema.parse({ name: "errors", provider: "proxy", query: "errorRate", max: "1%", for: "2m", ...extra });

function run(r: ReturnType<typeof rule>, values: (number | "none" | "error")[], stepMs = 60_000) {
  let s: RuleStatus = initialStatus(r, 0);
  const out: { state: string; transition?: string }[] = [];
  values.forEach((v, i) => {
    const at = (i + 1) * stepMs;
    const m =
      v === "none" ? { noData: true, at } : v === "error" ? { error: "refused", at } : { value: v, at };
    const next = evaluateRule(r, s, m, at);
    s = next.status;
    out.push({ state: s.state, ...(next.transition ? { transition: next.transition } : {}) });
  });
  return { out, last: s };
}

describe("rule state", () => {
  it("fires once the condition held for `for`, resolves when it stops", () => {
    const { out } = run(rule(), [0.001, 0.05, 0.05, 0.05, 0.05, 0.002]);
    expect(out).toEqual([
      { state: "inactive" },
      { state: "pending" },
      { state: "pending" },
      { state: "firing", transition: "fire" },
      { state: "firing" },
      { state: "inactive", transition: "resolve" },
    ]);
  });

  it("a breach shorter than `for` never fires", () => {
    const { out } = run(rule(), [0.05, 0.0, 0.05, 0.0]);
    expect(out.map((o) => o.state)).toEqual(["pending", "inactive", "pending", "inactive"]);
    expect(out.some((o) => o.transition)).toBe(false);
  });

  it("for: 0 fires at the first breach; since is when the state began", () => {
    const { out, last } = run(rule({ for: 0 }), [0.05, 0.05]);
    expect(out[0]).toEqual({ state: "firing", transition: "fire" });
    expect(last.since).toBe(new Date(60_000).toISOString());
    expect(last.value).toBe(0.05);
  });

  it("no data passes by default (resolves), fails with noData: fail, keeps the state when inconclusive", () => {
    expect(run(rule({ for: 0 }), [0.05, "none"]).out[1]).toEqual({
      state: "inactive",
      transition: "resolve",
    });
    expect(run(rule({ for: 0, noData: "fail" }), ["none"]).out[0]).toEqual({
      state: "firing",
      transition: "fire",
    });
    expect(run(rule({ for: 0, noData: "inconclusive" }), [0.05, "none"]).out[1]).toEqual({ state: "firing" });
  });

  it("an error leaves the state and marks the rule's health", () => {
    const { out, last } = run(rule({ for: 0 }), [0.05, "error"]);
    expect(out[1]).toEqual({ state: "firing" });
    expect(last).toMatchObject({ health: "error", lastError: "refused" });
  });

  it("minSamples: too few requests decide nothing", () => {
    const r = rule({ for: 0, minSamples: 50 });
    let s = initialStatus(r, 0);
    s = evaluateRule(r, s, { value: 0.5, samples: 3, at: 1 }, 1).status;
    expect(s.state).toBe("inactive");
    s = evaluateRule(r, s, { value: 0.5, samples: 80, at: 2 }, 2).status;
    expect(s.state).toBe("firing");
  });
});
