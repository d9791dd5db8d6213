/**
 * certificate.expiring from the daemon's scheduled checks, with real parts: openssl-made
 * certificates, the real engine (store, event bus, notifier with its outbox), the scheduler with
 * a 6-field cron and the daemon's check handler, and a webhook receiver on loopback.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.js";
import { runScheduledChecks } from "../../src/server/scheduled-checks.js";
import { DAILY_TLS_CRON, jobsOf, TLS_JOB, type Scheduler } from "../../src/server/scheduler.js";
import { alertingEnvs, type AlertingEnv } from "../support/alerting-env.js";
import { webhookAlerts } from "../support/deployed-env.js";
import { waitFor } from "../support/ports.js";

const alertingEnv = alertingEnvs();

function makeCert(path: string, cn: string, days: number): void {
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", `${path}.key`].concat([
      "-out",
      path,
      "-days",
      String(days),
      "-subj",
      `/CN=${cn}`,
    ]),
    { stdio: "ignore" },
  );
}

const spec = (schedules: string) => `project: certs
environments:
  dev: { target: process }
services:
  web: { run: node w.js, path: ./app }
checks:
  - tls: { file: certs/api.pem, minDays: 14 }
  - tls: { file: certs/edge.pem, minDays: 14 }
${webhookAlerts("HOOK_URL")}${schedules}`;

/** A deployed environment in a real engine, its scheduler started; alerts go to the webhook receiver. */
async function setup(schedules: string): Promise<Omit<AlertingEnv, "scheduler"> & { scheduler: Scheduler }> {
  const env = await alertingEnv({
    name: "certs",
    spec: spec(schedules),
    services: ["web"],
    running: "web",
    prepare: (dir) => {
      mkdirSync(join(dir, "app"));
      mkdirSync(join(dir, "certs"));
      makeCert(join(dir, "certs", "api.pem"), "api.example.test", 10); // < minDays: warning
      makeCert(join(dir, "certs", "edge.pem"), "edge.example.test", 2); // ≤ 3 days: critical
    },
  });
  const { engine: e, publish } = env;
  // The check handler as the daemon wires it (src/server/daemon.ts).
  const scheduler = env.scheduler();
  scheduler.handle("check", (s, entry) =>
    runScheduledChecks({ home: e.home, logger: silentLogger, publish, latest: (p, n) => e.latest(p, n) }, s, {
      schedule: entry.name,
      kinds: entry.checks,
    }).then(() => {}),
  );
  await scheduler.start();
  return { ...env, scheduler };
}

describe("scheduled tls checks", () => {
  it("raise certificate.expiring (warning, critical at ≤ 3 days) once, and a renewed certificate resolves only its own", async () => {
    const { alerts, delivered, dir } = await setup(
      `schedules:\n  - { name: checklist, cron: "* * * * * *", run: check }\n`,
    );
    const expiring = () => alerts.filter((a) => a.kind === "certificate.expiring");
    await waitFor(() => expiring().length === 2, {
      what: "two certificate.expiring events",
      timeoutMs: 10_000,
    });
    const by = (cn: string) => expiring().find((a) => a.data?.subject === `CN=${cn}`);
    expect(by("api.example.test")).toMatchObject({ severity: "warning", data: { daysLeft: 9 } });
    expect(by("edge.example.test")).toMatchObject({ severity: "critical", data: { daysLeft: 1 } });
    expect(by("edge.example.test")?.message).toMatch(/expires in 1 day\(s\)/);
    await waitFor(
      () =>
        delivered().filter((a) => a.labels.event === "certificate.expiring" && a.status === "firing")
          .length >= 2,
      { what: "both alerts delivered to the webhook", timeoutMs: 10_000 },
    );
    // The api certificate is renewed: the next run resolves its alert, not edge's.
    makeCert(join(dir, "certs", "api.pem"), "api.example.test", 90);
    await waitFor(() => alerts.some((a) => a.kind === "certificate.renewed"), {
      what: "certificate.renewed",
    });
    await waitFor(
      () =>
        delivered().some(
          (a) =>
            a.labels.event === "certificate.expiring" &&
            a.status === "resolved" &&
            a.data?.subject === "CN=api.example.test",
        ),
      { what: "api's alert delivered as resolved", timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 2500)); // more runs
    // Only transitions are published: one expiring per certificate, one renewal, nothing else.
    expect(alerts.map((a) => a.kind).sort()).toEqual([
      "certificate.expiring",
      "certificate.expiring",
      "certificate.renewed",
    ]);
    const edge = delivered().filter((a) => a.data?.subject === "CN=edge.example.test");
    expect(edge.every((a) => a.status === "firing" && a.severity === "critical")).toBe(true);
  });

  it("without a run: check schedule, the tls checks run when the daemon starts and daily after", async () => {
    const { res, alerts, scheduler } = await setup("");
    const job = jobsOf(res.spec).find((j) => j.name === TLS_JOB);
    expect(job).toMatchObject({ run: "check", cron: DAILY_TLS_CRON });
    expect(scheduler.jobs().find((j) => j.name === TLS_JOB)?.next).toMatch(/T\d\d:00:00/);
    await waitFor(() => alerts.filter((a) => a.kind === "certificate.expiring").length === 2, {
      what: "certificate.expiring at start",
      timeoutMs: 10_000,
    });
  });
});
