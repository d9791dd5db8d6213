/**
 * Inputs that cannot inject: ${VAR}s in fields run by a shell are refused (with the fix in the
 * message), release labels follow the image-tag grammar, environment names the service-name one
 * and, on Docker, cannot make two projects' object names collide.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError, UsageError } from "../errors.js";
import { parseSpecText } from "./load.js";
import { resolveSpec, validateAll } from "./resolve.js";

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-inputs-"));
  mkdirSync(join(dir, "app"));
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return parseSpecText(yaml, file);
}

function issuesOf(fn: () => unknown): SpecError["issues"] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  throw new Error("expected a SpecError");
}

const spec = (service: string, extra = "") => `project: shop
environments:
  production: { target: process }
services:
  web:
    path: ./app
${service}${extra}`;

describe("secrets in shell fields", () => {
  const EVIL = "x'; touch /tmp/pwned; echo '";

  it("refuses ${VAR} in run, at its line and column, and says how to pass it", () => {
    const loaded = load(spec(`    run: node server.js --token '\${API_TOKEN}'\n`));
    const issues = issuesOf(() => validateAll(loaded));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: "services.web.run", line: 7, column: 10 });
    expect(issues[0]?.message).toContain("${API_TOKEN} would be pasted into a shell command");
    expect(issues[0]?.message).toContain('env: { API_TOKEN: "${API_TOKEN}" }');
    expect(issues[0]?.message).toContain('write "$API_TOKEN" in the command');
    // deploy refuses too, whatever the value is: nothing is pasted
    expect(() => resolveSpec(loaded, { env: "production", vars: { API_TOKEN: EVIL } })).toThrow(SpecError);
  });

  it("refuses it in migrate.*, health.exec and checks' commands (both forms)", () => {
    const loaded = load(
      spec(
        `    run: node server.js
    migrate: { up: "migrate --url \${DB_URL}", down: "true", status: "echo \${DB_URL:-none}" }
    health: { exec: "curl -H 'Authorization: \${TOKEN}' localhost" }
checks:
  - command: "deploy-check \${TOKEN}"
  - command: { run: "other \${TOKEN}" }
`,
      ),
    );
    const paths = issuesOf(() => validateAll(loaded)).map((i) => i.path);
    expect(paths).toEqual([
      "services.web.migrate.up",
      "services.web.migrate.status",
      "services.web.health.exec",
      "checks.0.command",
      "checks.1.command.run",
    ]);
    const msg = issuesOf(() => validateAll(loaded))[3]?.message;
    expect(msg).toContain("command: { run: …, env: { TOKEN:");
  });

  it("an environment override's run is located in the override", () => {
    const loaded = load(`project: shop
environments:
  production:
    services:
      web: { run: "node server.js \${SECRET}" }
services:
  web: { path: ./app, run: node server.js }
`);
    const [issue] = issuesOf(() => validateAll(loaded));
    expect(issue).toMatchObject({ path: "environments.production.services.web.run", line: 5 });
  });

  it('keeps the fix working: env + "$NAME", ${VERSION}, $${ escapes and bare $VAR', () => {
    const loaded = load(
      spec(`    run: node server.js --token "$API_TOKEN" --v \${VERSION} --lit '$\${X}'
    env: { API_TOKEN: "\${API_TOKEN}" }
`),
    );
    const r = resolveSpec(loaded, { env: "production", version: "v1.2", vars: { API_TOKEN: EVIL } });
    expect(r.spec.services.web?.run).toBe(`node server.js --token "$API_TOKEN" --v v1.2 --lit '\${X}'`);
    expect(r.spec.services.web?.env.API_TOKEN).toBe(EVIL);
    expect(JSON.stringify(r.snapshot)).not.toContain(EVIL);
  });
});

describe("release labels and environment names", () => {
  const ok = spec("    run: node server.js\n");

  it("--version follows the image-tag grammar (a usage error otherwise)", () => {
    const loaded = load(ok);
    for (const v of ["v1.2.3", "abc1234-dirty", "20260101120000", "_x", "A".repeat(128)])
      expect(resolveSpec(loaded, { env: "production", version: v, vars: {} }).spec.version).toBe(v);
    for (const v of ["", "-v1", ".v1", "v1;rm -rf /", "v 1", "v1'", "$(id)", "a/b", "A".repeat(129)])
      expect(() => resolveSpec(loaded, { env: "production", version: v, vars: {} }), v).toThrow(UsageError);
    expect(() => resolveSpec(loaded, { env: "production", version: "v1;x", vars: {} })).toThrow(
      /--version "v1;x": a release label is 1–128 letters, digits/,
    );
  });

  it("environment names are lower-case letters, digits, - or _, located at the name", () => {
    const loaded = load(`project: shop
environments:
  Prod EU: { target: process }
services:
  web: { path: ./app, run: node server.js }
`);
    const [issue] = issuesOf(() => validateAll(loaded));
    expect(issue).toMatchObject({ path: "environments.Prod EU", line: 3, column: 3 });
    expect(issue?.message).toMatch(/environment names are lower-case letters, digits, - or _/);
  });

  it("on Docker, a '-' in an environment name is refused (shop/prod-eu vs shop-prod/eu)", () => {
    const loaded = load(`project: shop
environments:
  prod-eu: { target: docker }
  prod_us: { target: docker }
  dev-local: { target: process }
services:
  web: { image: shop/web, run: web, path: ./app }
`);
    const issues = issuesOf(() => validateAll(loaded));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: "environments.prod-eu", line: 3 });
    expect(issues[0]?.message).toContain('cannot contain "-"');
    expect(issues[0]?.message).toContain("use prod_eu");
    expect(() => resolveSpec(loaded, { env: "prod_us", vars: {} })).not.toThrow();
  });
});
