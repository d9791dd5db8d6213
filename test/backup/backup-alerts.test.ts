/**
 * backup.failed resolves: a scheduled backup that fails opens the alert, a later one that
 * succeeds sends backup.succeeded and the notifier delivers the alert as resolved (real engine,
 * store, scheduler with a 6-field cron, `files` backups, webhook receiver). Manual backups raise
 * the same pair.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { alertingEnvs } from "../support/alerting-env.js";
import { webhookAlerts } from "../support/deployed-env.js";
import { waitFor } from "../support/ports.js";

const alertingEnv = alertingEnvs();

const spec = (schedule: string) => `project: bk
environments:
  dev: { target: process }
services:
  notes:
    run: node w.js
    path: ./app
    backup: { type: files, paths: [data]${schedule} }
${webhookAlerts("HOOK_URL")}`;

/** notes deployed; no data/ yet: its backups fail. */
const setup = (schedule: string) =>
  alertingEnv({
    name: "bkalert",
    spec: spec(schedule),
    services: ["notes"],
    running: "notes",
    prepare: (dir) => mkdirSync(join(dir, "app")),
  });

describe("backup alerts", () => {
  it("a scheduled backup fails, then succeeds: backup.failed is delivered, then resolved", async () => {
    const { alerts, delivered, dir, scheduler } = await setup(`, schedule: "* * * * * *"`);
    await scheduler().start();
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
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "n.txt"), "hello");
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
    const { res, alerts, delivered, dir, engine } = await setup("");
    const s = engine.slipway("process");
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
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "n.txt"), "hello");
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
