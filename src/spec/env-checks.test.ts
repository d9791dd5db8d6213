/**
 * `environments.ENV.checks` and `environments.ENV.analysis`: the checklist and the analysis changed
 * per environment, merged by name, with located errors.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "./load.js";
import { resolveSpec } from "./resolve.js";
import { specError } from "../../test/support/spec-error.js";

function resolve(yaml: string, env: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-env-checks-"));
  mkdirSync(join(dir, "api"));
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return resolveSpec(parseSpecText(yaml, file), { env }).spec;
}

const spec = (production: string) => `project: shop
environments:
  staging: { target: process }
  production:
    target: process
${production}
services:
  api: { run: node server.js, path: ./api, port: 3000 }
checks:
  - { name: tests, command: npm test }
  - { name: disk, resources: { disk: { max: 90% } }, severity: warning }
  - { name: db, postgres: "postgres://u@127.0.0.1/staging" }
`;

const PRODUCTION = `    checks:
      - { name: disk, severity: error }                       # stricter: blocks the deploy here
      - { name: tests, enabled: false }                       # CI ran them already
      - { name: db, tcp: "db.internal:5432" }                 # another kind: replaces the check
      - { name: change ticket, confirm: "CAB ticket approved" } # production only`;

const summary = (checks: { name?: string; kind: string; severity: string }[]) =>
  checks.map((c) => `${c.name}:${c.kind}:${c.severity}`);

describe("per-environment checks", () => {
  it("merges by name: fields change, enabled: false drops, another kind replaces, new ones are added", () => {
    expect(summary(resolve(spec(PRODUCTION), "staging").checks)).toEqual([
      "tests:command:error",
      "disk:resources:warning",
      "db:postgres:error",
    ]);
    const prod = resolve(spec(PRODUCTION), "production").checks;
    expect(summary(prod)).toEqual(["disk:resources:error", "db:tcp:error", "change ticket:confirm:error"]);
    expect(prod[0]).toMatchObject({ disk: { max: 0.9 } }); // the top-level fields kept
  });

  it("a mistake in an environment's check is reported at its line there", () => {
    const bad = specError(() =>
      resolve(spec(`    checks:\n      - { name: disk, severity: fatal }`), "production"),
    );
    expect(bad.issues[0]).toMatchObject({ path: "environments.production.checks.0.severity", line: 7 });
    const unknown = specError(() =>
      resolve(spec(`    checks:\n      - { name: dsik, enabled: false }`), "production"),
    );
    expect(unknown.issues[0]?.message).toMatch(/no check named "dsik" in checks:.*did you mean "disk"/);
    expect(unknown.issues[0]).toMatchObject({ line: 7 });
  });

  it("a mistake in a top-level check after one the environment drops is reported at that check", () => {
    const bad = specError(() =>
      resolve(
        spec(`    checks:\n      - { name: tests, enabled: false }`).replace("max: 90%", "max: 9x0%"),
        "production",
      ),
    );
    // the merged list lost "tests", so "disk" is its item 0; the file has it at checks.1 (line 12)
    expect(bad.issues[0]).toMatchObject({ path: "checks.1.resources.disk.max", line: 12 });
  });

  it("analysis per environment: settings merged, metrics by name over the top level or the defaults", () => {
    const yaml = (top: string, prod: string) => `project: shop
environments:
  staging: { target: process }
  production:
    target: process
    analysis:
${prod}
services:
  api: { run: node server.js, path: ./api, port: 3000 }
${top}`;
    const metrics = (a: { metrics: { name: string; max?: number }[] } | undefined) =>
      a?.metrics.map((m) => `${m.name}<${m.max}`);
    // Over the defaults: production stricter on errors, no memory metric, a longer bake.
    const prodOverDefaults = `      bake: 10m
      metrics:
        - { name: error-rate, max: 0.5% }
        - { name: memory, enabled: false }`;
    // No top-level analysis: none in staging, production's own over the default metrics.
    expect(resolve(yaml("", prodOverDefaults), "staging").analysis).toBeUndefined();
    const prod = resolve(yaml("", prodOverDefaults), "production").analysis;
    expect(metrics(prod)).toEqual(["error-rate<0.005", "latency-p95<2", "cpu<0.9"]);
    expect(prod?.bake).toBe(600_000);
    // Over the top level's own metrics, with a new one; `metrics: []` turns analysis off.
    const top = `analysis:
  interval: 2s
  metrics:
    - { name: errors, provider: proxy, query: errorRate, max: 2% }`;
    const added = resolve(
      yaml(
        top,
        `      metrics:
        - { name: cpu, provider: driver, query: cpu, max: 70% }`,
      ),
      "production",
    ).analysis;
    expect(metrics(added)).toEqual(["errors<0.02", "cpu<0.7"]);
    expect(added?.interval).toBe(2000);
    const off = resolve(yaml(top, "      metrics: []"), "production").analysis;
    expect(off?.metrics).toEqual([]);
    // Mistakes are located in the environment.
    const bad = specError(() =>
      resolve(yaml(top, `      metrics:\n        - { name: errors, max: lots }`), "production"),
    );
    expect(bad.issues[0]?.path).toBe("environments.production.analysis.metrics.0.max");
    const unknown = specError(() =>
      resolve(yaml("", `      metrics:\n        - { name: memroy, enabled: false }`), "production"),
    );
    expect(unknown.issues[0]?.message).toMatch(/no metric named "memroy" .*did you mean "memory"/);
  });
});
