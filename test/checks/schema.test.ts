import { describe, expect, it } from "vitest";
import { z } from "zod";
import { checkSchema } from "../../src/spec/schema-checks.js";

const list = z.array(checkSchema);

describe("checks schema", () => {
  it("parses the DESIGN §8 checklist into normalized checks", () => {
    const checks = list.parse([
      { command: "npm test" },
      { command: "npm audit --audit-level=high", timeout: "2m", severity: "warning" },
      {
        env: {
          required: ["DATABASE_URL", "JWT_SECRET"],
          minLength: { JWT_SECRET: 64 },
          files: ".env.production",
        },
      },
      { postgres: "postgres://app:pw@127.0.0.1:5432/app" },
      { redis: "redis://127.0.0.1:6379" },
      { resources: { disk: { max: "90%" }, memory: { max: "85%" }, cpu: { max: "80%" } } },
      { tls: { file: "/etc/ssl/certs/production.crt", minDays: 14 } },
      { confirm: ["deploy announced to the team", "rollback plan reviewed"] },
      { gpu: { count: 2, minFreeMemory: "20Gi", ifMissing: "skip" } },
      { http: { url: "https://example.com/health", expectStatus: 200 } },
      { tcp: "127.0.0.1:6379", name: "redis port" },
      { tls: "example.com:443" },
    ]);
    expect(checks.map((c) => c.kind)).toEqual([
      "command",
      "command",
      "env",
      "postgres",
      "redis",
      "resources",
      "tls",
      "confirm",
      "gpu",
      "http",
      "tcp",
      "tls",
    ]);
    expect(checks[0]).toEqual({ kind: "command", run: "npm test", severity: "error" });
    expect(checks[1]).toMatchObject({ timeoutMs: 120_000, severity: "warning" });
    expect(checks[2]).toMatchObject({ files: [".env.production"], minLength: { JWT_SECRET: 64 } });
    expect(checks[5]).toMatchObject({
      disk: { path: ".", max: 0.9 },
      memory: { max: 0.85 },
      cpu: { max: 0.8 },
    });
    expect(checks[8]).toMatchObject({ count: 2, minFreeMemory: 20 * 1024 ** 3, ifMissing: "skip" });
    expect(checks[11]).toMatchObject({ host: "example.com:443", minDays: 14 });
  });

  it("accepts empty values from unset ${VAR}s (validated when the check runs)", () => {
    expect(list.safeParse([{ postgres: "" }, { redis: "" }, { tcp: ":5432" }]).success).toBe(true);
  });

  it("rejects unknown keys, missing or doubled kinds, and bad values", () => {
    const issues = (v: unknown) =>
      list.safeParse([v]).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues({ comand: "npm test" })?.join()).toMatch(/Unrecognized key.*comand/);
    expect(issues({ env: { required: ["A"], minLenght: {} } })?.join()).toMatch(/minLenght/);
    expect(issues({ name: "x" })?.join()).toContain("a check needs one kind key");
    expect(issues({ command: "a", tcp: "b:1" })?.join()).toContain("exactly one kind key");
    expect(issues({ resources: { disk: { max: "190%" } } })?.join()).toContain("percentage");
    expect(issues({ env: { placeholders: ["(unclosed"] } })?.join()).toContain("regular expression");
    expect(issues({ tcp: "no-port" })?.join()).toContain("host:port");
    expect(issues({ tls: { minDays: 3 } })?.join()).toContain("exactly one of file or host");
    expect(issues({ severity: "fatal", command: "x" })?.join()).toBeTruthy();
  });

  it("is described for the docs and the JSON Schema", () => {
    const json = JSON.stringify(z.toJSONSchema(checkSchema, { io: "input", unrepresentable: "any" }));
    expect(json).toContain("exactly one of command, env");
    expect(json).toContain("placeholder");
  });
});
