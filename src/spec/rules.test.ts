/** `rules:` and `runbooks:` in slipway.yaml: parsing, environment overrides by name, located errors. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "./load.js";
import { resolveSpec } from "./resolve.js";
import { specError } from "../../test/support/spec-error.js";

function resolve(yaml: string, env = "staging") {
  const dir = mkdtempSync(join(tmpdir(), "slipway-rules-spec-"));
  mkdirSync(join(dir, "api"));
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return resolveSpec(parseSpecText(yaml, file), { env, vars: { HOOK: "http://127.0.0.1:9/hook" } }).spec;
}

const BASE = `project: shop
environments:
  staging: { target: process }
  production:
    target: process
    rules:
      - { name: high-cpu, max: 70%, for: 10m, severity: critical }
      - { name: queue, provider: prometheus, url: "http://127.0.0.1:9090", query: max(lag), max: 30 }
      - { name: slow-api, enabled: false }
services:
  api: { run: node server.js, path: ./api, port: 3000 }
  db:
    run: sleep 1000
    path: ./api
    backup: { type: postgres, url: "postgres://u:p@127.0.0.1/db" }
checks:
  - resources: { disk: { max: 90% } }
  - tls: { host: "example.com:443", minDays: 14 }
  - name: audit
    command: npm audit
alerts:
  channels:
    ops: { type: webhook, url: "\${HOOK}" }
    pager: { type: webhook, url: "\${HOOK}" }
  routes:
    - { match: { severity: critical }, receivers: [pager] }
rules:
  - { name: high-cpu, provider: driver, query: cpu, max: 80%, for: 5m }
  - { name: api-errors, service: api, provider: proxy, query: errorRate, max: 1%, for: 2m, severity: critical }
  - { name: slow-api, service: api, provider: proxy, query: latencyP95, max: 2s, interval: 5s }
runbooks:
  daily:
    steps: [ { check: [resources, tls] }, { health: all }, { backupVerify: latest } ]
    report: ops
  monthly: { steps: [ { restoreTest: db }, { command: "npm audit --omit=dev" } ], stopOnFailure: true }
schedules:
  - { name: daily-ops, cron: "0 9 * * *", run: runbook, runbook: daily }
`;

describe("rules", () => {
  it("parses rules with their units and defaults", () => {
    const spec = resolve(BASE);
    expect(spec.rules?.map((r) => r.name)).toEqual(["high-cpu", "api-errors", "slow-api"]);
    const [cpu, errors, slow] = spec.rules ?? [];
    expect(cpu).toMatchObject({
      max: 0.8,
      for: 300_000,
      severity: "warning",
      interval: 15_000,
      noData: "pass",
    });
    expect(errors).toMatchObject({ max: 0.01, for: 120_000, severity: "critical", service: "api" });
    expect(slow).toMatchObject({ max: 2, interval: 5000, for: 0 });
  });

  it("merges an environment's rules by name: production stricter, new rules added, others switched off", () => {
    const spec = resolve(BASE, "production");
    const byName = Object.fromEntries((spec.rules ?? []).map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(["api-errors", "high-cpu", "queue"]);
    expect(byName["high-cpu"]).toMatchObject({
      provider: "driver",
      query: "cpu",
      max: 0.7,
      for: 600_000,
      severity: "critical",
    });
    expect(byName["queue"]).toMatchObject({ provider: "prometheus", max: 30 });
  });

  it("locates a bad override in the environment and a bad rule at the top", () => {
    const bad = BASE.replace("max: 70%, for: 10m", "max: lots, for: 10m");
    const e = specError(() => resolve(bad, "production"));
    expect(e.issues[0]).toMatchObject({ path: "environments.production.rules.0.max", line: 7 });
    const e2 = specError(() => resolve(BASE.replace("query: errorRate", "query: errors"), "staging"));
    expect(e2.issues[0].path).toBe("rules.1.query");
    expect(e2.issues[0].message).toContain("errorRate");
    const e3 = specError(() =>
      resolve(
        BASE.replace(
          "service: api, provider: proxy, query: errorRate",
          "service: apx, provider: proxy, query: errorRate",
        ),
      ),
    );
    expect(e3.issues[0].message).toMatch(/no service "apx".*api/);
    const e4 = specError(() =>
      resolve(BASE.replace("{ name: slow-api, service", "{ name: high-cpu, service")),
    );
    expect(e4.issues[0].message).toContain('duplicate rule name "high-cpu"');
  });

  it("names a misspelt override on its own line, not a new rule's missing fields at 1:1", () => {
    const e = specError(() =>
      resolve(BASE.replace("{ name: high-cpu, max: 70%", "{ name: hgh-cpu, max: 70%"), "production"),
    );
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]).toMatchObject({ path: "environments.production.rules.0.name", line: 7 });
    expect(e.issues[0].message).toBe(
      'no rule named "hgh-cpu" in rules: (did you mean "high-cpu"?) (a new rule needs provider and query)',
    );
    // a new rule that names its provider but lacks a field: reported on the environment's entry
    const e2 = specError(() => resolve(BASE.replace("query: max(lag), max: 30", "max: 30"), "production"));
    expect(e2.issues[0]).toMatchObject({ path: "environments.production.rules.1.query", line: 8 });
  });
});

describe("runbooks", () => {
  it("parses steps and adds the report route in front of the spec's routes", () => {
    const spec = resolve(BASE);
    expect(spec.runbooks?.daily.steps.map((s) => Object.keys(s).find((k) => k !== "timeout"))).toEqual([
      "check",
      "health",
      "backupVerify",
    ]);
    expect(spec.runbooks?.monthly.stopOnFailure).toBe(true);
    expect(spec.alerts?.routes?.[0]).toMatchObject({
      match: { event: ["runbook.report"], runbook: ["daily"] },
      receivers: ["ops"],
      groupWait: 0,
    });
    expect(spec.alerts?.routes?.[1]).toMatchObject({ receivers: ["pager"] });
    expect(spec.schedules[0]).toMatchObject({ run: "runbook", runbook: "daily" });
  });

  it("refuses steps that name what does not exist, with the place", () => {
    const cases: [string, string, RegExp][] = [
      ["{ check: [resources, tls] }", "{ check: [resource] }", /no check "resource".*resources/],
      ["{ restoreTest: db }", "{ restoreTest: api }", /"api" has no backup block/],
      ["report: ops", "report: opz", /no channel "opz"/],
      ["{ health: all }", "{ health: all, smoke: all }", /one thing; this one has health and smoke/],
      ["runbook: daily }", "runbook: dayly }", /no runbook "dayly".*daily/],
    ];
    for (const [from, to, message] of cases) {
      const e = specError(() => resolve(BASE.replace(from, to)));
      expect(e.issues.map((i) => i.message).join("\n")).toMatch(message);
      expect(e.issues[0].line).toBeGreaterThan(1);
    }
  });
});
