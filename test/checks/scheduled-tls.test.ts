/**
 * certificate.expiring from the daemon's scheduled checks, with real parts: openssl-made
 * certificates, the real engine (store, event bus, notifier with its outbox), the scheduler with
 * a 6-field cron and the daemon's check handler, and a webhook receiver on loopback.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineEvent } from "../../src/engine/events.js";
import { createEngine, type Engine } from "../../src/factory.js";
import { silentLogger } from "../../src/logger.js";
import { runScheduledChecks } from "../../src/server/scheduled-checks.js";
import { DAILY_TLS_CRON, jobsOf, Scheduler, TLS_JOB } from "../../src/server/scheduler.js";
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
alerts:
  channels:
    hooks: { type: webhook, url: "\${HOOK_URL}" }
  routes:
    - { match: {}, receivers: [hooks] }
  groupWait: 100ms
  groupInterval: 200ms
${schedules}`;

/** A deployed environment in a real engine; its alerts go to the webhook receiver. */
async function setup(schedules: string): Promise<{ res: Resolution; alerts: Alert[] }> {
  dir = mkdtempSync(join(tmpdir(), "slipway-certs-"));
  mkdirSync(join(dir, "app"));
  mkdirSync(join(dir, "certs"));
  makeCert(join(dir, "certs", "api.pem"), "api.example.test", 10); // < minDays: warning
  makeCert(join(dir, "certs", "edge.pem"), "edge.example.test", 2); // ≤ 3 days: critical
  writeFileSync(join(dir, "slipway.yaml"), spec(schedules));
  hooks = await startHttpReceiver();
  const res = resolveSpec(loadSpecFile(join(dir, "slipway.yaml")), {
    env: "dev",
    version: "v1",
    vars: { HOOK_URL: `${hooks.url}/hook` },
  });
  const e = (engine = await createEngine({ home: join(dir, "home") }));
  await e.store.createRevision({
    project: "certs",
    env: "dev",
    version: "v1",
    status: "deployed",
    snapshot: res.snapshot,
    services: ["web"],
    actor: "test",
    description: "deploy v1",
    skipChecks: false,
    facts: {},
  });
  await e.store.putInstance({
    ...{ id: "web-1", project: "certs", env: "dev", service: "web", revision: 1, version: "v1" },
    ...{ slot: "stable", index: 0, state: "running", startedAt: new Date().toISOString(), restarts: 0 },
  });
  e.remember(res);
  e.notify.configure(res);
  e.notify.start();
  const alerts: Alert[] = [];
  e.subscribe((_p, _e, ev) => {
    if (ev.type === "alert") alerts.push(ev);
  });
  // Wired as the daemon wires it (src/server/daemon.ts).
  const publish = (s: Resolution["spec"], ev: EngineEvent) =>
    e.slipway(s.target).publish(s.project, s.env, ev);
  scheduler = new Scheduler({
    home: e.home,
    store: e.store,
    logger: silentLogger,
    latest: (p, n) => e.latest(p, n),
    publish,
  });
  scheduler.handle("check", (s, entry) =>
    runScheduledChecks({ home: e.home, logger: silentLogger, publish, latest: (p, n) => e.latest(p, n) }, s, {
      schedule: entry.name,
      kinds: entry.checks,
    }).then(() => {}),
  );
  await scheduler.start();
  return { res, alerts };
}

interface Delivered {
  status: string;
  labels: Record<string, string>;
  severity: string;
  data?: { daysLeft?: number; subject?: string };
}
const delivered = (): Delivered[] =>
  (hooks as HttpReceiver).requests.flatMap((r) => (JSON.parse(r.body) as { alerts: Delivered[] }).alerts);

describe("scheduled tls checks", () => {
  it("raise certificate.expiring (warning, critical at ≤ 3 days) once, and a renewed certificate resolves only its own", async () => {
    const { alerts } = await setup(`schedules:\n  - { name: checklist, cron: "* * * * * *", run: check }\n`);
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
    makeCert(join(dir as string, "certs", "api.pem"), "api.example.test", 90);
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
    const { res, alerts } = await setup("");
    const job = jobsOf(res.spec).find((j) => j.name === TLS_JOB);
    expect(job).toMatchObject({ run: "check", cron: DAILY_TLS_CRON });
    expect(scheduler?.jobs().find((j) => j.name === TLS_JOB)?.next).toMatch(/T\d\d:00:00/);
    await waitFor(() => alerts.filter((a) => a.kind === "certificate.expiring").length === 2, {
      what: "certificate.expiring at start",
      timeoutMs: 10_000,
    });
  });
});
