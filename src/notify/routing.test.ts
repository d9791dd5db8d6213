import { describe, expect, it } from "vitest";
import { alertsSchema } from "../spec/schema-alerts.js";
import {
  fingerprintOf,
  groupKeyOf,
  groupLabelsOf,
  labelsOf,
  matches,
  resolvesKind,
  selectRoutes,
} from "./routing.js";

const hook = { type: "webhook", url: "http://127.0.0.1:1/x" } as const;
const cfg = alertsSchema.parse({
  channels: { a: hook, b: hook, c: hook },
  routes: [
    { match: { severity: "critical" }, receivers: ["a"], continue: true },
    { match: { severity: "critical", service: "db" }, receivers: ["b"] },
    { match: { severity: ["warning", "critical"] }, receivers: ["c"] },
  ],
});
const labels = (severity: string, service?: string) =>
  labelsOf({
    project: "p",
    env: "prod",
    kind: "deploy.failed",
    severity: severity as "critical",
    message: "m",
    service,
  });

describe("routing", () => {
  it("labels come from the event and data.labels, core labels win", () => {
    const l = labelsOf({
      project: "p",
      env: "prod",
      kind: "check.failed",
      severity: "warning",
      message: "m",
      data: { labels: { check: "tls", project: "evil", "bad name": "x", n: 3 }, other: "not a label" },
    });
    expect(l).toEqual({
      check: "tls",
      n: "3",
      project: "p",
      environment: "prod",
      event: "check.failed",
      severity: "warning",
    });
  });

  it("first match wins; continue goes on to later routes", () => {
    expect(selectRoutes(cfg, labels("critical", "api")).map((r) => r.receivers)).toEqual([["a"], ["c"]]);
    expect(selectRoutes(cfg, labels("critical", "db")).map((r) => r.receivers)).toEqual([["a"], ["b"]]);
    expect(selectRoutes(cfg, labels("warning")).map((r) => r.receivers)).toEqual([["c"]]);
    expect(selectRoutes(cfg, labels("info"))).toEqual([]);
  });

  it("routes inherit timing and grouping unless they override it", () => {
    const c = alertsSchema.parse({
      channels: { a: hook },
      routes: [{ receivers: ["a"], groupWait: "1s" }],
      groupInterval: "1m",
    });
    expect(selectRoutes(c, labels("info"))[0]).toMatchObject({
      groupWait: 1000,
      groupInterval: 60_000,
      repeatInterval: 4 * 3_600_000,
      groupBy: ["project", "environment", "service", "event"],
    });
  });

  it("without routes every alert goes to every channel", () => {
    const c = alertsSchema.parse({ channels: { a: hook, b: hook } });
    expect(selectRoutes(c, labels("info"))[0].receivers).toEqual(["a", "b"]);
  });

  it("matchers: lists, negation, missing labels match empty", () => {
    const l = labels("warning", "api");
    expect(matches({ service: ["api", "web"] }, l)).toBe(true);
    expect(matches({ service: ["!api"] }, l)).toBe(false);
    expect(matches({ service: ["!db"] }, l)).toBe(true);
    expect(matches({ region: [""] }, l)).toBe(true);
    expect(matches({ region: ["eu"] }, l)).toBe(false);
  });

  it("group keys follow groupBy; '...' groups by every label; severity is identity", () => {
    const a = labels("critical", "api");
    const b = labels("critical", "web");
    const by = ["project", "environment", "event"];
    expect(groupKeyOf(0, groupLabelsOf(by, a))).toBe(groupKeyOf(0, groupLabelsOf(by, b)));
    expect(groupKeyOf(0, groupLabelsOf(by, a))).not.toBe(groupKeyOf(1, groupLabelsOf(by, a)));
    expect(groupKeyOf(0, groupLabelsOf(["..."], a))).not.toBe(groupKeyOf(0, groupLabelsOf(["..."], b)));
    expect(fingerprintOf(labels("critical", "api"))).not.toBe(fingerprintOf(labels("warning", "api")));
    expect(fingerprintOf(labels("critical", "api"))).toBe(fingerprintOf(labels("critical", "api")));
  });

  it("recovered events resolve their counterpart", () => {
    const e = { project: "p", env: "e", severity: "info" as const, message: "" };
    expect(resolvesKind({ ...e, kind: "health.recovered" })).toBe("health.degraded");
    expect(resolvesKind({ ...e, kind: "x.ok", data: { resolves: "x.bad" } })).toBe("x.bad");
    expect(resolvesKind({ ...e, kind: "deploy.failed" })).toBeUndefined();
  });

  it("the schema rejects unknown receivers and bad channel fields with their path", () => {
    const r = alertsSchema.safeParse({
      channels: { a: hook, mail: { type: "email", smtp: "http://x", from: "a@b", to: "c@d" } },
      routes: [{ receivers: ["a", "nope"] }],
    });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join("."));
    expect(paths).toContain("channels.mail.smtp");
    const r2 = alertsSchema.safeParse({ channels: { a: hook }, routes: [{ receivers: ["nope"] }] });
    expect(r2.error?.issues[0]).toMatchObject({ path: ["routes", 0, "receivers", 0] });
    expect(r2.error?.issues[0].message).toContain('no channel "nope"');
  });
});
