import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { runChecks } from "../../src/checks/runner.js";
import { parseDotenv } from "../../src/spec/dotenv.js";
import { checkSchema } from "../../src/spec/schema-checks.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-envcheck-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const strongSecret = "k".repeat(70);
function envFile(name: string, body: string, mode: number): void {
  writeFileSync(join(dir, name), body);
  chmodSync(join(dir, name), mode);
}
const parse = (v: unknown[]) => z.array(checkSchema).parse(v);

describe("env check (real files, real modes)", () => {
  it("passes with private files and real values", async () => {
    envFile(".env.good", `DATABASE_URL=postgres://app:pw@db/app\nJWT_SECRET=${strongSecret}\n`, 0o600);
    const [r] = await runChecks(
      parse([
        {
          env: {
            required: ["DATABASE_URL", "JWT_SECRET"],
            minLength: { JWT_SECRET: 64 },
            files: ".env.good",
          },
        },
      ]),
      { cwd: dir, vars: {} },
    );
    expect(r.status, r.evidence).toBe("passed");
    expect(r.evidence).toContain("0600");
  });

  it("refuses a group/other-readable file, placeholders, short and missing values — naming them, never the values", async () => {
    envFile(
      ".env.production",
      [
        "DATABASE_URL=postgresql://user:CHANGE_THIS@localhost/db",
        "JWT_SECRET=tooshort-secret-value",
        "API_KEY=your-api-key-here",
        "SESSION_SECRET=changeme",
        "SMTP_PASS=xxxx",
        "WEBHOOK=<your webhook>",
      ].join("\n"),
      0o644,
    );
    const [r] = await runChecks(
      parse([
        {
          env: {
            required: ["DATABASE_URL", "JWT_SECRET", "REDIS_URL"],
            minLength: { JWT_SECRET: 64 },
            files: [".env.production"],
          },
        },
      ]),
      { cwd: dir, vars: {} },
    );
    expect(r.status).toBe("failed");
    expect(r.evidence).toContain(".env.production: readable by group/others (mode 0644); run: chmod 600");
    for (const name of ["DATABASE_URL", "API_KEY", "SESSION_SECRET", "SMTP_PASS", "WEBHOOK"]) {
      expect(r.evidence).toContain(`${name} holds a placeholder value`);
    }
    expect(r.evidence).toContain("JWT_SECRET is 21 characters long, needs at least 64");
    expect(r.evidence).toContain("REDIS_URL is not set");
    const shown = r.evidence + JSON.stringify(r.details);
    for (const value of ["tooshort-secret-value", "your-api-key-here", "<your webhook>"]) {
      expect(shown).not.toContain(value);
    }
  });

  it("checks variables from the interpolation context, with configurable placeholder patterns", async () => {
    const [r] = await runChecks(parse([{ env: { required: ["TOKEN"], placeholders: ["^dummy"] } }]), {
      cwd: dir,
      vars: { TOKEN: "dummy-token-1234" },
    });
    expect(r.status).toBe("failed");
    expect(r.evidence).toContain("TOKEN holds a placeholder value (matches /^dummy/i)");
    expect(r.evidence).not.toContain("dummy-token-1234");
  });

  it("reports a missing env file", async () => {
    const [r] = await runChecks(parse([{ env: { files: ".env.nope" } }]), { cwd: dir, vars: {} });
    expect(r.status).toBe("failed");
    expect(r.evidence).toContain(".env.nope: file not found");
  });
});

describe(".env parsing", () => {
  it("ends a quoted value at its closing quote, so a comment holding quotes is not part of it", () => {
    expect(parseDotenv('A="x" # "y"\n')).toEqual({ A: "x" });
    expect(parseDotenv("B='x' # 'y'\n")).toEqual({ B: "x" });
  });

  it("reads quotes, export, comments, escapes and multi-line values as Node's --env-file does", () => {
    const text = [
      "# a comment line",
      "export EXPORTED=yes",
      "PLAIN=value # trailing comment",
      "SPACED =   padded   ",
      'DOUBLE="two words"',
      "SINGLE='no $EXPANSION here'",
      'ESCAPED="line1\\nline2"',
      'HASH_IN_QUOTES="a # b"',
      "EMPTY=",
      'MULTI="first',
      "second",
      'third"',
      "CRLF=ok\r",
      "URL=postgres://u:p@db:5432/app?sslmode=require",
      "",
    ].join("\n");
    expect(parseDotenv(text)).toEqual({
      EXPORTED: "yes",
      PLAIN: "value",
      SPACED: "padded",
      DOUBLE: "two words",
      SINGLE: "no $EXPANSION here",
      ESCAPED: "line1\nline2",
      HASH_IN_QUOTES: "a # b",
      EMPTY: "",
      MULTI: "first\nsecond\nthird",
      CRLF: "ok",
      URL: "postgres://u:p@db:5432/app?sslmode=require",
    });
  });

  it("refuses a line that is not KEY=value instead of dropping it", () => {
    expect(() => parseDotenv("GOOD=1\nnot an assignment\n")).toThrow("line 2: expected KEY=value");
    expect(() => parseDotenv('M="open\nstill open"\nAFTER=1\n')).not.toThrow();
  });
});
