/**
 * backup.failed resolves: a scheduled backup that fails opens the alert, a later one that
 * succeeds sends backup.succeeded and the notifier delivers the alert as resolved (real engine,
 * store, scheduler with a 6-field cron, `files` backups, webhook receiver). Manual backups raise
 * the same pair.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { createEngine, type Engine } from "../../src/factory.js";
import { silentLogger } from "../../src/logger.js";
import { Scheduler } from "../../src/server/scheduler.js";
import { loadSpecFile } from "../../src/spec/load.js";
import { resolveSpec, type Resolution } from "../../src/spec/resolve.js";
import { startHttpReceiver, type HttpReceiver } from "../notify/receivers.js";
import { waitFor } from "../support/ports.js";

type Alert = Extract<EngineEvent, { type: "alert" }>;

let dir: string | undefined;
let engine: Engine | undefined;
let scheduler: Scheduler | undefined;
let hooks: HttpReceiver | undefined;
afterEach(async () => {
  scheduler?.stop();
  await engine?.close();
  await hooks?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = engine = scheduler = hooks = undefined;
});

const spec = (schedule: string) => `project: bk
environments:
  dev: { target: process }
services:
  notes:
    run: node w.js
    path: ./app
    backup: { type: files, paths: [data]${schedule} }
alerts:
  channels:
    hooks: { type: webhook, url: "\${HOOK_URL}" }
  routes:
    - { match: {}, receivers: [hooks] }
  groupWait: 100ms
  groupInterval: 200ms
`;

async function setup(schedule: string): Promise<{ res: Resolution; alerts: Alert[]; e: Engine }> {
  dir = mkdtempSync(join(tmpdir(), "slipway-bkalert-"));
  mkdirSync(join(dir, "app"));
  writeFileSync(join(dir, "slipway.yaml"), spec(schedule)); // no data/ yet: backups fail
  hooks = await startHttpReceiver();
  const res = resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), {
    env: "dev",
    version: "v1",
    vars: { HOOK_URL: `${hooks.url}/hook` },
  });
  const e = (engine = await createEngine({ home: join(dir, "home") }));
  await e.store.createRevision({
    ...{ project: "bk", env: "dev", version: "v1", status: "deployed", snapshot: res.snapshot },
    ...{ services: ["notes"], actor: "test", description: "deploy v1", skipChecks: false, facts: {} },
  });
  await e.store.putInstance({
    ...{ id: "notes-1", project: "bk", env: "dev", service: "notes", revision: 1, version: "v1" },
    ...{ slot: "stable", index: 0, state: "running", startedAt: new Date().toISOString(), restarts: 0 },
  });
  e.remember(res);
  e.notify.configure(res);
  e.notify.start();
  const alerts: Alert[] = [];
  e.subscribe((_p, _e, ev) => {
    if (ev.type === "alert") alerts.push(ev);
  });
  return { res, alerts, e };
}

interface Delivered {
  status: string;
  labels: Record<string, string>;
}
const delivered = (): Delivered[] =>
  (hooks as HttpReceiver).requests.flatMap((r) => (JSON.parse(r.body) as { alerts: Delivered[] }).alerts);

describe("backup alerts", () => {
  it("a scheduled backup fails, then succeeds: backup.failed is delivered, then resolved", async () => {
    const { alerts, e } = await setup(`, schedule: "* * * * * *"`);
    scheduler = new Scheduler({
      home: e.home,
      store: e.store,
      logger: silentLogger,
      latest: (p, n) => e.latest(p, n),
      publish: (s, ev) => e.slipway(s.target).publish(s.project, s.env, ev),
    });
    await scheduler.start();
    await waitFor(
      () => delivered().some((a) => a.labels.event === "backup.failed" && a.status === "firing"),
      {
        what: "backup.failed delivered",
        timeoutMs: 10_000,
      },
    );
    expect(alerts.find((a) => a.kind === "backup.failed")).toMatchObject({
      severity: "critical",
      service: "notes",
    });
    mkdirSync(join(dir as string, "data"));
    writeFileSync(join(dir as string, "data", "n.txt"), "hello");
    await waitFor(() => alerts.some((a) => a.kind === "backup.succeeded"), { what: "backup.succeeded" });
    await waitFor(
      () => delivered().some((a) => a.labels.event === "backup.failed" && a.status === "resolved"),
      {
        what: "backup.failed delivered as resolved",
        timeoutMs: 10_000,
      },
    );
  });

  it("manual backups raise backup.failed and backup.succeeded too", async () => {
    const { res, alerts, e } = await setup("");
    const s = e.slipway("process");
    const emit = (ev: EngineEvent) => s.publish("bk", "dev", ev);
    await expect(s.dataOp("backup", res, {}, { emit })).rejects.toThrow(/backup failed/);
    expect(alerts.map((a) => a.kind)).toEqual(["backup.failed"]);
    expect(alerts[0].message).toMatch(/manual backup of notes failed/);
    await waitFor(
      () => delivered().some((a) => a.labels.event === "backup.failed" && a.status === "firing"),
      {
        what: "the manual failure delivered",
        timeoutMs: 10_000,
      },
    );
    mkdirSync(join(dir as string, "data"));
    writeFileSync(join(dir as string, "data", "n.txt"), "hello");
    await s.dataOp("backup", res, {}, { emit });
    expect(alerts.map((a) => a.kind)).toEqual(["backup.failed", "backup.succeeded"]);
    await waitFor(
      () => delivered().some((a) => a.labels.event === "backup.failed" && a.status === "resolved"),
      {
        what: "the manual failure delivered as resolved",
        timeoutMs: 10_000,
      },
    );
  });
});
