/**
 * Recovery with real processes (process driver, SQLite store), the crash staged by hand: the
 * new instance of a stateful `recreate` rollout was stored but its id never reached the journal
 * (issue 11 item 8). Recovery must stop it before it starts the previous revision again: never
 * two instances of a stateful service on one volume.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { APP, waitFor } from "../../test/e2e/harness.js";
import { freePort } from "../../test/support/ports.js";
import { createRuntime, type Runtime } from "../factory.js";
import { loadSpecFile } from "../spec/load.js";
import { resolveSpec } from "../spec/resolve.js";
import type { EngineDeps } from "./context.js";
import { instanceEnv } from "../spec/instance-env.js";
import { stopInstances } from "./strategies/common.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  cleanup = [];
});

const STATEFUL_DB = (port: number) => `project: rec
environments:
  development:
    target: process
services:
  db:
    run: node app.js
    path: ./app
    port: ${port}
    stateful: true
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 100ms, timeout: 1s, startTimeout: 20s }
    stop: { grace: 2s }
`;

async function setUp(
  spec = STATEFUL_DB,
): Promise<{ dir: string; runtime: Runtime; deps: EngineDeps; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-recover-"));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "app", "app.js"), APP);
  writeFileSync(join(dir, "app", "package.json"), '{ "type": "module" }');
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, spec(await freePort()));
  const home = join(dir, "home");
  const runtime = await createRuntime({ home });
  // The engine's own dependencies, to stage the crash exactly where the journal is behind.
  const deps = (runtime.slipway("process") as unknown as { deps: EngineDeps }).deps;
  cleanup.push(async () => {
    for (const i of await deps.driver.inspect("rec", "development"))
      await deps.driver.stop(i, { signal: "SIGKILL", graceMs: 0 });
    const proxyPid = join(home, "proxy", "proxy.pid");
    if (existsSync(proxyPid)) process.kill(Number(readFileSync(proxyPid, "utf8").trim()), "SIGKILL");
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, runtime, deps, file };
}

describe("recovery of an instance stored before the journal named it", () => {
  it("stops the interrupted revision's unjournaled instance, then restarts the previous one alone", async () => {
    const { runtime, deps, file } = await setUp();
    const resolve = (version: string) => resolveSpec(loadSpecFile(file), { env: "development", version });
    const sw = runtime.slipway("process");
    const r1 = resolve("v1");
    await sw.deploy(r1);
    const [old] = await deps.store.listInstances("rec", "development");
    expect(old).toMatchObject({ revision: 1, service: "db" });

    // Revision 2 as a crash leaves it: old stopped (journaled), new started and stored, not journaled.
    const r2 = resolve("v2");
    const svc = r2.spec.services.db;
    await deps.store.createRevision({
      ...{ project: "rec", env: "development", version: "v2", status: "in-progress" },
      ...{ snapshot: r2.snapshot, services: ["db"], actor: "test", description: "deploy v2" },
      ...{ skipChecks: true, facts: { previous: 1 } },
    });
    await deps.store.journalAppend({
      ...{ project: "rec", env: "development", revision: 2, seq: 1, kind: "rollout", service: "db" },
      ...{ description: "recreate db", status: "running" },
    });
    await deps.store.journalUpdate("rec", "development", 2, 1, {
      data: { fresh: [], old: [old.id], phase: "stopping-old" },
    });
    await stopInstances(deps, r1.spec.services.db, [old], "superseded");
    const artifact = await deps.driver.prepare("rec", "development", svc, 2);
    const orphan = await deps.driver.start({
      ...{ project: "rec", env: "development", service: svc, revision: 2, version: "v2" },
      ...{ slot: "candidate", index: 0, env_vars: instanceEnv(r2.spec, svc, 2), artifact },
    });
    await deps.store.putInstance({ ...orphan, artifact: artifact.ref });

    const alerts: string[] = [];
    runtime.subscribe((_p, _e, ev) => {
      if (ev.type === "alert") alerts.push(ev.message);
    });
    const report = await sw.recover("rec", "development");
    expect(report?.revisions).toMatchObject([{ number: 2, outcome: "rolled-back" }]);
    const live = await deps.driver.inspect("rec", "development");
    expect(live.map((i) => [i.service, i.revision])).toEqual([["db", 1]]);
    const stored = await deps.store.listInstances("rec", "development");
    expect(stored.map((i) => i.id)).toEqual(live.map((i) => i.id));
    expect((await deps.store.getRevision("rec", "development", 2))?.status).toBe("failed");
    expect(alerts.filter((a) => a.includes("interrupted"))).toEqual([
      expect.stringContaining("rec development: deploy of r2 interrupted; rolled back to r1"),
    ]);
  }, 60_000);
});

describe("a revision's facts", () => {
  it("are in the store as each step finishes, not only when the deploy ends", async () => {
    const { runtime, deps, file } = await setUp(
      (port) => `project: rec
environments:
  development:
    target: process
services:
  api:
    run: node app.js
    path: ./app
    port: ${port}
    env: { RELEASE: "\${VERSION}", START_DELAY_MS: "\${START_DELAY_MS:-0}" }
    migrate: { up: "true" }
    health: { http: /health, interval: 100ms, timeout: 1s, startTimeout: 20s }
    stop: { grace: 2s }
`,
    );
    const resolve = (version: string, vars: Record<string, string> = {}) =>
      resolveSpec(loadSpecFile(file), { env: "development", version, vars });
    const sw = runtime.slipway("process");
    await sw.deploy(resolve("v1"));
    const deploying = sw.deploy(resolve("v2", { START_DELAY_MS: "2000" }));
    // While api's new release starts, the migration already ran: a crash now keeps the fact.
    let facts: Record<string, unknown> | undefined;
    await waitFor(
      async () => {
        const steps = await deps.store.journal("rec", "development", 2).catch(() => []);
        if (!steps.some((s) => s.kind === "rollout" && s.status === "running")) return false;
        facts = (await deps.store.getRevision("rec", "development", 2))?.facts;
        return true;
      },
      { what: "the rollout of revision 2", intervalMs: 50, timeoutMs: 20_000 },
    );
    expect(facts).toMatchObject({ previous: 1, migrations: { api: true }, artifacts: { api: 2 } });
    await deploying;
    expect((await deps.store.getRevision("rec", "development", 2))?.facts).toMatchObject({
      migrations: { api: true },
    });
  }, 60_000);
});

describe("recovery at the daemon's start", () => {
  it("closes an interrupted first deploy that never stored an instance", async () => {
    const { runtime, deps, file } = await setUp();
    const r1 = resolveSpec(loadSpecFile(file), { env: "development", version: "v1" });
    await deps.store.createRevision({
      ...{ project: "rec", env: "development", version: "v1", status: "in-progress" },
      ...{ snapshot: r1.snapshot, services: ["db"], actor: "test", description: "deploy v1" },
      ...{ skipChecks: true, facts: {} },
    });
    await deps.store.journalAppend({
      ...{ project: "rec", env: "development", revision: 1, seq: 1, kind: "prepare", service: "db" },
      ...{ description: "prepare db", status: "running" },
    });
    const alerts: string[] = [];
    runtime.subscribe((_p, _e, ev) => {
      if (ev.type === "alert") alerts.push(ev.message);
    });
    await runtime.recoverAll();
    expect((await deps.store.getRevision("rec", "development", 1))?.status).toBe("failed");
    expect(alerts).toEqual([expect.stringContaining("deploy of r1 interrupted; its changes undone")]);
  }, 60_000);
});
