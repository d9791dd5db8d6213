/**
 * Re-hydrating a stored revision never reads the daemon's own environment (issue 11, item 2):
 * values come from the operation that brought them or from the env files the snapshot recorded;
 * anything else refuses, naming the variable.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseSpecText } from "../spec/load.js";
import { resolveSpec } from "../spec/resolve.js";
import type { Instance } from "../drivers/driver.js";
import type { Revision } from "../store/store.js";
import type { EngineDeps } from "./context.js";
import { deployedSpec, MissingVariables } from "./deployed.js";
import type { EngineEvent } from "./events.js";
import { replaceLostInstances } from "./replace-lost.js";

const YAML = `project: shop
environments:
  production:
    target: process
    envFile: .env.prod
services:
  web:
    run: node app.js
    path: ./web
    port: 3000
    env:
      DB_PASSWORD: "\${DB_PASSWORD}"
      API_TOKEN: "\${API_TOKEN}"
      MODE: "\${MODE:-calm}"
`;

const dirs: string[] = [];
const saved = process.env.API_TOKEN;

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  if (saved === undefined) delete process.env.API_TOKEN;
  else process.env.API_TOKEN = saved;
});

function deployed(): { rev: Revision; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "slipway-deployed-"));
  dirs.push(dir);
  mkdirSync(join(dir, "web"));
  writeFileSync(join(dir, ".env.prod"), "DB_PASSWORD=prod-db-pass-1\n");
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, YAML);
  const r = resolveSpec(parseSpecText(YAML, file), {
    env: "production",
    version: "v1",
    vars: { API_TOKEN: "prod-token-from-caller" },
  });
  const rev = {
    project: "shop",
    env: "production",
    number: 1,
    version: "v1",
    status: "deployed",
    snapshot: r.snapshot,
    facts: {},
  } as unknown as Revision;
  return { rev, dir };
}

describe("deployedSpec", () => {
  it("re-reads the environment's env file, and refuses a caller variable the daemon only has from its own shell", () => {
    const { rev, dir } = deployed();
    expect(JSON.stringify(rev.snapshot)).not.toContain("prod-db-pass-1");
    // The daemon was started from a shell holding ANOTHER environment's value.
    process.env.API_TOKEN = "staging-token";
    let err: unknown;
    try {
      deployedSpec(rev);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingVariables);
    expect((err as MissingVariables).variables).toEqual(["API_TOKEN"]);
    expect((err as Error).message).toContain("API_TOKEN");
    expect((err as Error).message).not.toContain("staging-token");

    writeFileSync(join(dir, ".env.prod"), "DB_PASSWORD=rotated-pass-2\n");
    const spec = deployedSpec(rev, [["API_TOKEN", "prod-token-from-caller"]]);
    expect(spec.services.web.env).toMatchObject({
      DB_PASSWORD: "rotated-pass-2",
      API_TOKEN: "prod-token-from-caller",
      // ${MODE:-calm} with MODE unset: the default, needing nothing at re-hydration.
      MODE: "calm",
    });
  });

  it("an operation's value wins over the environment's env file", () => {
    const { rev } = deployed();
    const spec = deployedSpec(rev, [
      ["API_TOKEN", "t-123456"],
      ["DB_PASSWORD", "given-by-op"],
    ]);
    expect(spec.services.web.env.DB_PASSWORD).toBe("given-by-op");
  });
});

describe("replaceLostInstances with a variable missing", () => {
  it("starts nothing, alerts and names the variable (not the daemon's own value)", async () => {
    const { rev } = deployed();
    process.env.API_TOKEN = "staging-token";
    const ghost = {
      id: "web-1",
      project: "shop",
      env: "production",
      service: "web",
      revision: 1,
    } as Instance;
    let started = 0;
    const deps = {
      store: {
        currentRevision: async () => rev,
        listInstances: async () => [ghost],
        removeInstance: async () => {},
      },
      driver: {
        inspect: async () => [],
        start: async () => {
          started++;
          throw new Error("must not start");
        },
      },
    } as unknown as EngineDeps;
    const events: EngineEvent[] = [];
    const replaced = await replaceLostInstances(deps, "shop", "production", undefined, (e) => events.push(e));
    expect(replaced).toEqual([]);
    expect(started).toBe(0);
    const alert = events.find((e) => e.type === "alert");
    expect(alert && alert.type === "alert" && alert.kind).toBe("heal.refused");
    expect(alert && alert.type === "alert" && alert.message).toContain("API_TOKEN");
    expect(JSON.stringify(events)).not.toContain("staging-token");
  });
});
