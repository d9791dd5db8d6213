import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpecText } from "./load.js";
import { redact, rehydrate, resolveSpec, validateAll } from "./resolve.js";
import { interpolate } from "./interpolate.js";
import { specError } from "../../test/support/spec-error.js";

function project(yaml: string, files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-spec-"));
  mkdirSync(join(dir, "web"));
  for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return parseSpecText(yaml, file);
}

const BASE = `project: hello
environments:
  development:
    target: process
  production:
    target: process
    protect: true
    services: { web: { replicas: 2 } }
services:
  web:
    run: node server.js
    path: ./web
    port: 8080
    env: { GREETING: hi, DB_URL: "\${DB_URL:?set DB_URL}" }
    health: { http: /health, interval: 1s, timeout: 2s, startPeriod: 0s, healthyThreshold: 1, unhealthyThreshold: 3 }
    stop: { signal: SIGTERM, grace: 10s }
`;

describe("interpolate", () => {
  it("supports ${VAR}, defaults, required and escapes", () => {
    const vars = { A: "1", EMPTY: "" };
    expect(interpolate("x${A}y", vars).value).toBe("x1y");
    expect(interpolate("${NOPE:-d}", vars).value).toBe("d");
    expect(interpolate("${EMPTY:-d}", vars).value).toBe("d");
    expect(interpolate("${EMPTY-d}", vars).value).toBe("");
    expect(interpolate("$${A} $A", vars).value).toBe("${A} $A");
    expect(() => interpolate("${NOPE:?tell me}", vars)).toThrow("NOPE: tell me");
    expect(interpolate("${NOPE:?tell me}", vars, { strict: false }).value).toBe("");
  });
});

describe("resolveSpec", () => {
  it("merges the environment overlay and applies defaults", () => {
    const l = project(BASE);
    const { spec } = resolveSpec(l, { env: "production", vars: { DB_URL: "postgres://x" }, version: "v1" });
    expect(spec.services.web.replicas).toBe(2);
    expect(spec.services.web.health?.interval).toBe(1000);
    expect(spec.services.web.rollout.strategy).toBe("blue-green");
    expect(spec.services.web.env).toEqual({ GREETING: "hi", DB_URL: "postgres://x" });
    expect(spec.protect).toEqual({ confirm: true, context: undefined });
    const dev = resolveSpec(l, { env: "development", vars: { DB_URL: "postgres://x" } }).spec;
    expect(dev.services.web.replicas).toBe(1);
    expect(Object.isFrozen(dev.services.web)).toBe(true);
  });

  it("names file:line:column and the key path for a bad duration", () => {
    const l = project(BASE.replace("interval: 1s", "interval: 1x"));
    const e = specError(() => resolveSpec(l, { env: "development", vars: { DB_URL: "x" } }));
    expect(e.issues[0].path).toBe("services.web.health.interval");
    expect(e.issues[0].line).toBe(15);
    expect(e.issues[0].message).toBe("expected a duration like 5s");
    expect(e.message).toMatch(
      /slipway\.yaml:15:\d+: services\.web\.health\.interval: expected a duration like 5s/,
    );
  });

  it("suggests the key meant for an unknown key, also in environment overrides", () => {
    const l = project(
      BASE.replace("services: { web: { replicas: 2 } }", "services: { web: { replica: 2 } }").replace(
        "port: 8080",
        "prot: 8080",
      ),
    );
    const e = specError(() => validateAll(l));
    const msgs = e.issues.map((i) => `${i.path}: ${i.message}`);
    expect(msgs).toContain('services.web.prot: unknown key "prot" (did you mean "port"?)');
    expect(msgs).toContain(
      'environments.production.services.web.replica: unknown key "replica" (did you mean "replicas"?)',
    );
  });

  it("tells a wrong type from a missing value, lists a union's allowed values, refuses a health check without a kind", () => {
    const l = project(
      BASE.replace("port: 8080", 'port: "abc"')
        .replace("run: node server.js", "run: [node, server.js]")
        .replace("development:\n    target: process", "development:\n    target: proces"),
    );
    const e = specError(() => validateAll(l, {}));
    const msgs = e.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    expect(msgs).toContain("13: services.web.port: expected number, got a string");
    expect(msgs).toContain("11: services.web.run: expected string, got a list");
    expect(msgs).toContain(
      '4: environments.development.target: expected one of "process", "docker", "kubernetes", an object (did you mean "process"?)',
    );
    const noKind = project(BASE.replace("health: { http: /health,", "health: {"));
    expect(specError(() => validateAll(noKind, {})).message).toMatch(
      /slipway\.yaml:15:\d+: services\.web\.health: a health check needs one of http, tcp: true, exec, postgres or redis/,
    );
    const missing = project(BASE.replace("project: hello\n", ""));
    expect(specError(() => validateAll(missing, {})).issues.map((i) => i.message)).toContain(
      "required (expected string)",
    );
  });

  it("reports a missing required variable with its message, where it is used", () => {
    const l = project(BASE);
    const e = specError(() => resolveSpec(l, { env: "development", vars: {} }));
    expect(e.issues[0].message).toBe("DB_URL: set DB_URL");
    expect(e.issues[0].line).toBe(14);
    // validate is lenient about secrets that are not set here
    expect(validateAll(l, {})).toEqual(["development", "production"]);
  });

  it("a required value made of an unset ${VAR} says so; validate lets it pass, a real mistake not", () => {
    const yaml = `project: hello
environments:
  development: { target: process }
services:
  web:
    run: node server.js
    path: ./web
    port: \${WEB_PORT}
    backup: { type: redis, url: "\${REDIS_URL}" }
`;
    const l = project(yaml);
    const e = specError(() => resolveSpec(l, { env: "development", vars: {} }));
    expect(e.issues.map((i) => [i.line, i.path])).toEqual([
      [8, "services.web.port"],
      [9, "services.web.backup.url"],
    ]);
    expect(e.issues[0].message).toMatch(/ \(\$\{WEB_PORT\} is not set or empty\)$/);
    expect(e.issues[1].message).toBe(
      'a redis backup needs "url" (the connection URL) (${REDIS_URL} is not set or empty)',
    );
    // a default that fills it is no mistake; set, the spec resolves
    expect(() =>
      resolveSpec(project(yaml.replace("${WEB_PORT}", "${WEB_PORT:-8080}")), {
        env: "development",
        vars: { REDIS_URL: "redis://127.0.0.1:6379" },
      }),
    ).not.toThrow();
    // docs/spec.md: validate checks every environment, variables that are not set are no error
    expect(validateAll(l, {})).toEqual(["development"]);
    const typo = specError(() => validateAll(project(yaml.replace("port:", "prot:")), {}));
    expect(typo.issues.map((i) => i.path)).toContain("services.web.prot");
  });

  it("rejects unknown environments, dependencies and cycles with suggestions", () => {
    const l = project(BASE);
    expect(specError(() => resolveSpec(l, { env: "prod", vars: { DB_URL: "x" } })).message).toContain(
      '(did you mean "production"?)',
    );
    const cyc = project(
      BASE +
        `    dependsOn: [api]\n  api:\n    run: node api.js\n    dependsOn: [web]\n  w2:\n    run: x\n    dependsOn: [wbe]\n`,
    );
    const e = specError(() => resolveSpec(cyc, { env: "development", vars: { DB_URL: "x" } }));
    const msgs = e.issues.map((i) => i.message).join("\n");
    expect(msgs).toContain('no service "wbe" (did you mean "web"?)');
    expect(msgs).toMatch(/dependency cycle: (web → api → web|api → web → api)/);
  });

  it("reads env files and keeps secret values out of the snapshot", () => {
    const l = project(
      BASE.replace(
        "    target: process\n  production",
        "    target: process\n    envFile: .env.dev\n  production",
      ),
      { ".env.dev": "DB_URL=postgres://app:s3cr3t-pass@db/app\n# comment\nexport OTHER='x y'\n" },
    );
    const r = resolveSpec(l, { env: "development", vars: {} });
    expect(r.spec.services.web.env.DB_URL).toBe("postgres://app:s3cr3t-pass@db/app");
    const text = JSON.stringify(r.snapshot);
    expect(text).not.toContain("s3cr3t-pass");
    expect(r.snapshot.services.web.env.DB_URL).toBe("${DB_URL}");
    expect(rehydrate(r.snapshot, { DB_URL: "postgres://new" }).services.web.env.DB_URL).toBe(
      "postgres://new",
    );
  });

  it("stop/destroy (lenientFiles) need no env file, secret file or certificate, but still every variable", () => {
    const yaml = `project: files
environments:
  production:
    target: process
    proxy: { https: 8443 }
services:
  web:
    run: node server.js
    path: ./web
    port: 8080
    domains: [app.test]
    tls: { cert: gone.pem, key: gone.key }
    envFile: .env.gone
    secrets: { fromFile: { TOKEN: token.gone } }
    env: { DB_URL: "\${DB_URL:?set DB_URL}" }
`;
    const l = project(yaml);
    const strict = specError(() => resolveSpec(l, { env: "production", vars: { DB_URL: "x" } }));
    expect(strict.issues.map((i) => i.path).sort()).toEqual([
      "services.web.envFile",
      "services.web.secrets.fromFile.TOKEN",
      "services.web.tls.cert",
      "services.web.tls.key",
    ]);
    const r = resolveSpec(l, { env: "production", vars: { DB_URL: "x" }, lenientFiles: true });
    expect(r.spec.services.web.domains).toEqual(["app.test"]);
    expect(r.spec.services.web.env.TOKEN).toBeUndefined();
    // Files only: an unset variable is still an error (it may say where the environment runs).
    const unset = specError(() => resolveSpec(l, { env: "production", vars: {}, lenientFiles: true }));
    expect(unset.issues.map((i) => i.message).join()).toContain("set DB_URL");
  });

  it("a variable that gives a port is configuration, not a secret (messages keep ':8181')", () => {
    const l = project(BASE.replace("port: 8080", "port: ${WEB_PORT:-8080}"));
    const r = resolveSpec(l, {
      env: "development",
      vars: { WEB_PORT: "8181", DB_URL: "postgres://x:pw@db/x" },
    });
    expect(r.spec.services.web.port).toBe(8181);
    expect([...r.secrets.keys()]).toEqual(["DB_URL"]);
  });

  it("keeps every service env file value out of the snapshot, whatever its name", () => {
    const l = project(
      BASE.replace(
        "    stop: { signal: SIGTERM, grace: 10s }\n",
        "    stop: { signal: SIGTERM, grace: 10s }\n    envFile: .env.web\n" +
          "  api:\n    run: node api.js\n    path: ./web\n    envFile: .env.api\n    env: { MODE: spec }\n",
      ),
      {
        ".env.web": "DATABASE_URL=postgres://u:pw-web-1@db/app\nWORKERS=1\nEMPTY=\n",
        ".env.api": "DATABASE_URL=postgres://u:pw-api-2@db/app\nMODE=file\n",
      },
    );
    const r = resolveSpec(l, { env: "development", vars: { DB_URL: "postgres://x" } });
    // The instances get the real values; the spec's own env wins over a file's.
    expect(r.spec.services.web.env).toMatchObject({
      DATABASE_URL: "postgres://u:pw-web-1@db/app",
      WORKERS: "1",
    });
    expect(r.spec.services.api.env).toMatchObject({
      DATABASE_URL: "postgres://u:pw-api-2@db/app",
      MODE: "spec",
    });
    const text = JSON.stringify(r.snapshot);
    expect(text).not.toContain("pw-web-1");
    expect(text).not.toContain("pw-api-2");
    const web = r.snapshot.services.web.env;
    const api = r.snapshot.services.api.env;
    expect(web.WORKERS).toBe("${WORKERS}");
    expect(api.MODE).toBe("spec");
    expect(web.EMPTY).toBe("");
    // Same key, different values: distinct references, each re-hydrated to its own value.
    expect(new Set([web.DATABASE_URL, api.DATABASE_URL]).size).toBe(2);
    expect(r.snapshot.services.web.health).toEqual(r.spec.services.web.health); // "1" elsewhere untouched
    const back = rehydrate(r.snapshot, { ...Object.fromEntries(r.secrets) });
    expect(back.services.web.env).toEqual(r.spec.services.web.env);
    expect(back.services.api.env).toEqual(r.spec.services.api.env);
  });

  it("a restarted daemon re-reads env-file values from the files, not from its own environment", () => {
    const l = project(
      BASE.replace(
        "    stop: { signal: SIGTERM, grace: 10s }\n",
        "    stop: { signal: SIGTERM, grace: 10s }\n    envFile: .env.web\n" +
          "  api:\n    run: node api.js\n    path: ./web\n    envFile: .env.api\n",
      ),
      {
        ".env.web": "DATABASE_URL=postgres://u:pw-web-1@db/app\nHOME=/srv/web\n",
        ".env.api": "DATABASE_URL=postgres://u:pw-api-2@db/app\n",
      },
    );
    const r = resolveSpec(l, { env: "development", vars: { DB_URL: "postgres://x" } });
    // What the store keeps: a JSON copy, with where each reference came from and no value.
    const stored = JSON.parse(JSON.stringify(r.snapshot)) as typeof r.snapshot;
    expect(JSON.stringify(stored)).not.toContain("pw-web-1");
    expect(stored.services.web.envFileRefs?.HOME).toEqual({ file: join(l.dir, ".env.web"), key: "HOME" });
    // Nothing but the daemon's own variables (whose HOME is something else): the files answer.
    const back = rehydrate(stored, { HOME: "/root", DB_URL: "postgres://x" });
    expect(back.services.web.env.DATABASE_URL).toBe("postgres://u:pw-web-1@db/app");
    expect(back.services.web.env.HOME).toBe("/srv/web");
    expect(back.services.api.env.DATABASE_URL).toBe("postgres://u:pw-api-2@db/app");
    // The file changed since: its current value; the file gone: the caller's variables.
    writeFileSync(join(l.dir, ".env.api"), "DATABASE_URL=postgres://u:pw-api-3@db/app\n");
    expect(rehydrate(stored, {}).services.api.env.DATABASE_URL).toBe("postgres://u:pw-api-3@db/app");
    rmSync(join(l.dir, ".env.web"));
    expect(rehydrate(stored, { HOME: "/root" }).services.web.env.HOME).toBe("/root");
  });

  it("redacts secrets inside longer strings and escapes literal ${", () => {
    const out = redact(
      { a: "url=https://hooks/abcdef123", b: "${not-a-var}" },
      new Map([["HOOK", "abcdef123"]]),
    ) as Record<string, string>;
    expect(out.a).toBe("url=https://hooks/${HOOK}");
    expect(rehydrate(out, { HOOK: "zzz" })).toEqual({ a: "url=https://hooks/zzz", b: "${not-a-var}" });
  });

  it("refuses what a stateful service cannot do and duplicate ports", () => {
    const l = project(
      BASE +
        `  db:\n    run: x\n    stateful: true\n    replicas: 2\n    rollout: { strategy: blue-green }\n  web2:\n    run: y\n    port: 8080\n`,
    );
    const msgs = specError(() => resolveSpec(l, { env: "development", vars: { DB_URL: "x" } })).issues.map(
      (i) => `${i.path}: ${i.message}`,
    );
    expect(msgs).toContain('services.db.rollout.strategy: a stateful service only supports "recreate"');
    expect(msgs).toContain("services.db.replicas: a stateful service runs one instance");
    expect(msgs).toContain('services.web2.port: port 8080 is already used by service "web"');
  });

  it("proxies services with a port, but not stateful ones unless they say so", () => {
    const l = project(
      BASE +
        `  db:\n    run: x\n    stateful: true\n    port: 5432\n` +
        `  cache:\n    run: x\n    stateful: true\n    port: 6379\n    proxy: true\n` +
        `  raw:\n    run: x\n    port: 9000\n    proxy: false\n`,
    );
    const { spec } = resolveSpec(l, { env: "development", vars: { DB_URL: "x" } });
    const s = spec.services;
    expect([s.web?.proxy, s.db?.proxy, s.cache?.proxy, s.raw?.proxy]).toEqual([true, false, true, false]);
    expect([s.web?.rollout.strategy, s.db?.rollout.strategy, s.raw?.rollout.strategy]).toEqual([
      "blue-green",
      "recreate",
      "recreate",
    ]);
    const bad = project(
      BASE +
        `  raw:\n    run: x\n    port: 9000\n    proxy: false\n    rollout: { strategy: blue-green }\n` +
        `  worker:\n    run: x\n    proxy: true\n`,
    );
    const msgs = specError(() => resolveSpec(bad, { env: "development", vars: { DB_URL: "x" } })).issues.map(
      (i) => `${i.path}: ${i.message}`,
    );
    expect(msgs).toContain(
      'services.raw.rollout.strategy: blue-green needs the proxy (proxy: false binds the port directly); use "recreate" or remove proxy: false',
    );
    expect(msgs).toContain(
      "services.worker.proxy: proxy: true needs a port (the public port the proxy listens on)",
    );
  });

  it("gives YAML syntax errors a position", () => {
    expect(() => parseSpecText("project: x\n  bad: [", "/tmp/x.yaml")).toThrow(
      /\/tmp\/x\.yaml:\d+:\d+: YAML/,
    );
  });
});

describe("defaults through re-hydration", () => {
  it("a ${VAR:-default} given a value at deploy time falls back to its default when re-hydrated without it", () => {
    const loaded = project(
      BASE.replace('GREETING: hi, DB_URL: "${DB_URL:?set DB_URL}"', 'DELAY: "${DELAY_MS:-250}"'),
    );
    const r = resolveSpec(loaded, { env: "development", version: "v1", vars: { DELAY_MS: "1500" } });
    expect(r.spec.services.web.env.DELAY).toBe("1500");
    expect(JSON.stringify(r.snapshot)).not.toContain("1500");
    // A daemon (or another person's shell) without DELAY_MS: the spec's default, not a refusal.
    expect(rehydrate(r.snapshot, {}).services.web.env.DELAY).toBe("250");
    expect(rehydrate(r.snapshot, { DELAY_MS: "900" }).services.web.env.DELAY).toBe("900");
  });
});
