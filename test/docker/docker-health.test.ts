/**
 * Docker's own health status in the health gate, end to end (built CLI, real engine, real
 * proxy): a release whose image HEALTHCHECK fails — while Slipway's HTTP probe passes — and a
 * release whose container exits are both refused quickly (long before startTimeout) and rolled
 * back, the old container serving throughout; `status` shows Docker's status.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { dockerStack } from "./stack.js";

const stack = dockerStack("health");
const { dir } = stack;
let port: number;

const cli = (args: string[], env: Record<string, string> = {}) => stack.cli(args, { env });

/** The spec: the plain test app, or an image built FROM it whose HEALTHCHECK always fails. */
function writeSpec(source: "image" | "bad-healthcheck") {
  stack.writeSpec(
    `services:
  web:
    ${source === "image" ? "image: slipway-test/app:latest" : "build: { context: ./bad }"}
    port: ${port}
    containerPort: 3000
    env: { APP_VERSION: "\${VERSION}", HEALTH: "\${HEALTH:-ok}" }
    # A long startTimeout: a quick failure proves the gate did not wait for it.
    health: { http: /health, interval: 300ms, startTimeout: 60s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
`,
  );
}

async function version(): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  return (JSON.parse(await r.text()) as { version: string }).version;
}

const running = async () => (await stack.containers()).map((c) => `r${c.Labels["slipway.revision"]}`).sort();

beforeAll(async () => {
  await ensureTestImages();
  port = await freePort();
  mkdirSync(join(dir, "bad"));
  writeFileSync(
    join(dir, "bad", "Dockerfile"),
    'FROM slipway-test/app:latest\nHEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["sh", "-c", "echo disk full; exit 1"]\n',
  );
  writeSpec("image");
  const d = await cli(["deploy", "staging", "--version", "v1", "--yes"]);
  expect(d.code, d.stderr).toBe(0);
}, 300_000);

afterAll(() => stack.teardown());

describe("Docker's health status in the gate", () => {
  it("an image whose HEALTHCHECK fails is rolled back fast although Slipway's probe passes", async () => {
    writeSpec("bad-healthcheck");
    const d = await cli(["deploy", "staging", "--version", "v2", "--yes"]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/Docker reports the container unhealthy \(exit 1: disk full\)/);
    expect(d.stderr).toMatch(/rolled back/);
    expect(d.ms).toBeLessThan(30_000); // startTimeout is 60 s
    expect(await version()).toBe("v1");
    expect(await running()).toEqual(["r1"]);
  });

  it("a container that exits at start fails the gate at once, not at startTimeout", async () => {
    writeSpec("image");
    const d = await cli(["deploy", "staging", "--version", "v3", "--yes"], { HEALTH: "exit" });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/the container exited (with code 3|and the engine restarted it)/);
    expect(d.ms).toBeLessThan(30_000);
    expect(await version()).toBe("v1");
    expect(await running()).toEqual(["r1"]);
  });

  it("status shows Docker's health status next to Slipway's probe", async () => {
    const dockerfile = join(dir, "bad", "Dockerfile");
    writeFileSync(
      dockerfile,
      'FROM slipway-test/app:latest\nHEALTHCHECK --interval=1s --timeout=1s CMD ["true"]\n',
    );
    writeSpec("bad-healthcheck");
    const d = await cli(["deploy", "staging", "--version", "v4", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    const s = await cli(["status", "staging"]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/r\d+ v4 .*healthy\s+docker: healthy/);
    const j = await cli(["status", "staging", "--json"]);
    const doc = JSON.parse(j.stdout) as {
      result: { services: { instances: { dockerHealth?: string }[] }[] };
    };
    expect(doc.result.services[0]?.instances.map((i) => i.dockerHealth)).toEqual(["healthy"]);
  });
});
