/** `secrets: { as: files }`: which env keys resolve() marks secret, and the spec errors. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpecError } from "../errors.js";
import { parseSpecText } from "./load.js";
import { rehydrate, resolveSpec } from "./resolve.js";
import type { ResolvedSpec } from "./resolved.js";

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "slipway-secrets-"));
  writeFileSync(join(dir, "api.env"), "API_TOKEN=tok-from-file\nLOG_LEVEL=debug\n");
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return parseSpecText(yaml, file);
}

const spec = (target: string, secrets: string) => `project: s
environments:
  staging: { target: ${target} }
services:
  api:
    image: app:1
    run: node server.js
    envFile: api.env
    env: { DB_PASSWORD: "\${DB_PASSWORD}", GREETING: hello, APP_VERSION: "\${VERSION}" }
    secrets: ${secrets}
`;

const messages = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e.message;
    throw e;
  }
  throw new Error("no SpecError");
};

describe("secrets.as", () => {
  it("marks the keys whose values came from a variable or an env file, never VERSION or literals", () => {
    const r = resolveSpec(load(spec("docker", "{ as: files }")), {
      env: "staging",
      version: "v1",
      vars: { DB_PASSWORD: "pw-1" },
    });
    const api = r.spec.services.api;
    expect(api?.secrets).toEqual({ as: "files" });
    expect([...(api?.secretEnv ?? [])].sort()).toEqual(["API_TOKEN", "DB_PASSWORD", "LOG_LEVEL"]);
    // The snapshot carries the key names (never the values), and a re-hydrated revision keeps them.
    expect(JSON.stringify(r.snapshot)).not.toContain("pw-1");
    const again = rehydrate(r.snapshot as ResolvedSpec, {
      DB_PASSWORD: "pw-1",
      API_TOKEN: "t",
      LOG_LEVEL: "d",
    });
    expect(again.services.api?.secretEnv).toEqual(api?.secretEnv);
  });

  it("defaults to env, and refuses files off Docker or names that are not env keys", () => {
    const r = resolveSpec(load(spec("docker", "{}")), { env: "staging", vars: { DB_PASSWORD: "x" } });
    expect(r.spec.services.api?.secrets).toEqual({ as: "env" });
    expect(
      messages(() => resolveSpec(load(spec("process", "{ as: files }")), { env: "staging", vars: {} })),
    ).toMatch(/services\.api\.secrets\.as: secrets as files need the docker target \(this is process\)/);
    expect(
      messages(() =>
        resolveSpec(load(spec("docker", "{ as: files, names: [NOPE] }")), { env: "staging", vars: {} }),
      ),
    ).toMatch(/services\.api\.secrets\.names: "NOPE" is not in this service's env/);
  });
});
