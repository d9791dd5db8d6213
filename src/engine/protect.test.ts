import { describe, expect, it } from "vitest";
import { Refused } from "../errors.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import { activeFreeze, parseFreeze } from "../spec/freeze.js";
import { protect } from "./protect.js";

const spec = (protect: ResolvedSpec["protect"], target: object = { kind: "process" }) =>
  ({ project: "p", env: "production", target, protect }) as unknown as ResolvedSpec;

// 2026-12-04 is a Friday.
const FRI_17 = new Date("2026-12-04T17:00:00Z");
const MON_09 = new Date("2026-12-07T09:00:00Z");
const SUN_12 = new Date("2026-12-06T12:00:00Z");

describe("freeze windows", () => {
  it("a weekly window wraps over the weekend, a daily one over midnight", () => {
    const weekend = ["Fri 16:00-Mon 08:00"];
    expect(activeFreeze(weekend, FRI_17)).toBe("Fri 16:00-Mon 08:00");
    expect(activeFreeze(weekend, SUN_12)).toBe("Fri 16:00-Mon 08:00");
    expect(activeFreeze(weekend, MON_09)).toBeUndefined();
    expect(activeFreeze(["22:00-06:00"], new Date("2026-12-07T23:30:00Z"))).toBe("22:00-06:00");
    expect(activeFreeze(["22:00-06:00"], new Date("2026-12-07T12:00:00Z"))).toBeUndefined();
  });
  it("a time zone moves the window", () => {
    // 17:00 UTC on a Friday is 18:00 in Berlin: inside "Fri 17:30-…" there, not in UTC.
    expect(activeFreeze(["Fri 17:30-Sat 00:00 Europe/Berlin"], FRI_17)).toBeDefined();
    expect(activeFreeze(["Fri 17:30-Sat 00:00"], FRI_17)).toBeUndefined();
  });
  it("says what is wrong with a window", () => {
    expect(parseFreeze("Friday")).toMatch(/"Fri 16:00-Mon 08:00"/);
    expect(parseFreeze("Fri 25:00-Mon 08:00")).toMatch(/not a time of day/);
    expect(parseFreeze("Fri 16:00-08:00")).toMatch(/both ends/);
    expect(parseFreeze("16:00-08:00 Mars/Olympus")).toMatch(/unknown time zone/);
  });
});

describe("protect", () => {
  it("confirm: true takes --yes; confirm: name refuses --yes alone and wants the name", () => {
    expect(protect(spec({ confirm: true }), "deploy", { yes: true }, "a")).toEqual({
      actor: "a",
      operation: "deploy",
      via: "yes",
    });
    const named = spec({ confirm: "name" });
    expect(() => protect(named, "deploy", { yes: true })).toThrow(/--yes alone is not enough/);
    expect(() => protect(named, "deploy", { confirmName: "staging" })).toThrow(Refused);
    expect(protect(named, "rollback", { confirmName: "production", prompted: true }, "a")?.via).toBe(
      "prompt",
    );
    // The cluster's name when the target names one.
    const k8s = spec({ confirm: "name" }, { kind: "kubernetes", context: "prod-eu-1" });
    expect(() => protect(k8s, "destroy", { confirmName: "production" })).toThrow(/is not "prod-eu-1"/);
    expect(protect(k8s, "destroy", { confirmName: "prod-eu-1" })?.via).toBe("name");
  });
  it("protect.context is checked against the live kubeconfig context when the engine knows it", () => {
    const k8s = spec({ confirm: false, context: "prod" }, { kind: "kubernetes" });
    // No target.context: the kubeconfig's current context decides.
    expect(() => protect(k8s, "deploy", { kubeContext: "staging-eu" })).toThrow(
      /context containing "prod", but the kubeconfig's context is "staging-eu"/,
    );
    expect(() => protect(k8s, "deploy", { kubeContext: "prod-eu-1" })).not.toThrow();
    expect(() => protect(k8s, "deploy", {})).toThrow(Refused);
  });
  it("a deploy inside a freeze is refused unless overridden with a reason, which is recorded", () => {
    const frozen = spec({ confirm: false, freeze: ["Fri 16:00-Mon 08:00"] });
    expect(() => protect(frozen, "deploy", {}, "a", FRI_17)).toThrow(/freeze "Fri 16:00-Mon 08:00"/);
    expect(protect(frozen, "deploy", {}, "a", MON_09)).toBeUndefined();
    expect(protect(frozen, "rollback", {}, "a", FRI_17)).toBeUndefined();
    expect(protect(frozen, "deploy", { overrideFreeze: "hotfix #12" }, "a", FRI_17)).toEqual({
      actor: "a",
      operation: "deploy",
      freeze: { window: "Fri 16:00-Mon 08:00", reason: "hotfix #12" },
    });
  });
});
