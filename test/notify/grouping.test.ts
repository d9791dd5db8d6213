/** Grouping, routes with `continue`, silences and repeats, observed at real webhook receivers. */
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import type { AlertsInput } from "../../src/spec/schema-alerts.js";
import { waitFor } from "../support/ports.js";
import { ev, harness } from "./helpers.js";
import type { Harness } from "./helpers.js";
import { startHttpReceiver } from "../support/receivers.js";
import type { HttpReceiver } from "../support/receivers.js";

interface Payload {
  status: string;
  alerts: { status: string; labels: Record<string, string>; count: number; message: string }[];
  groupLabels: Record<string, string>;
}
const payloads = (r: HttpReceiver) => r.requests.map((q) => JSON.parse(q.body) as Payload);

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(n: number, config: (urls: string[]) => Parameters<typeof harness>[0]) {
  const recv = await Promise.all(Array.from({ length: n }, () => startHttpReceiver()));
  const h = harness(config(recv.map((r) => r.url)));
  cleanups.push(async () => {
    await h.close();
    await Promise.all(recv.map((r) => r.close()));
  });
  return { h, recv };
}

const hooks = (urls: string[]) =>
  Object.fromEntries(urls.map((u, i) => [`h${i}`, { type: "webhook" as const, url: u }]));

describe("grouping", () => {
  it("sends one message for a burst, folding repeats of the same alert", async () => {
    const { h, recv } = await setup(1, (u) => ({
      channels: hooks(u),
      groupBy: ["project", "environment", "event"],
      groupWait: "300ms",
    }));
    // A burst: 20 services fail at once, one of them twice.
    for (let i = 0; i < 20; i++)
      h.notifier.emit(ev({ kind: "deploy.failed", service: `svc${i}`, message: `svc${i} down` }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "svc3", message: "svc3 down again" }));
    // Another event kind is another group.
    h.notifier.emit(ev({ kind: "backup.failed", service: "db" }));
    await waitFor(() => recv[0].requests.length >= 2, { what: "group notifications" });
    await h.notifier.flush();
    const p = payloads(recv[0]);
    expect(p).toHaveLength(2);
    const deploy = p.find((x) => x.groupLabels.event === "deploy.failed");
    expect(deploy?.alerts).toHaveLength(20);
    const svc3 = deploy?.alerts.find((a) => a.labels.service === "svc3");
    expect(svc3).toMatchObject({ count: 2, message: "svc3 down again" });
    expect(deploy?.groupLabels).toEqual({
      project: "shop",
      environment: "production",
      event: "deploy.failed",
    });
  });

  it("notifies alerts that join an open group at the group interval, with the ones still firing", async () => {
    const { h, recv } = await setup(1, (u) => ({
      channels: hooks(u),
      groupBy: ["project", "environment"],
      groupWait: "100ms",
      groupInterval: "300ms",
    }));
    h.notifier.emit(ev({ kind: "health.degraded", service: "api" }));
    await waitFor(() => recv[0].requests.length >= 1);
    h.notifier.emit(ev({ kind: "deploy.failed", service: "web" }));
    await waitFor(() => recv[0].requests.length >= 2);
    const [first, second] = payloads(recv[0]);
    expect(first.alerts.map((a) => a.labels.event)).toEqual(["health.degraded"]);
    expect(second.alerts.map((a) => a.labels.event)).toEqual(["health.degraded", "deploy.failed"]);
  });

  it("repeats a notification for alerts still firing after repeatInterval", async () => {
    const { h, recv } = await setup(1, (u) => ({
      channels: hooks(u),
      groupWait: 0,
      groupInterval: "100ms",
      repeatInterval: "400ms",
    }));
    h.notifier.emit(ev({ kind: "certificate.expiring", message: "cert expires in 5 days" }));
    await waitFor(() => recv[0].requests.length >= 2, { what: "repeat" });
    expect(payloads(recv[0]).map((p) => p.status)).toEqual(["firing", "firing"]);
    // One-shot events never repeat.
    h.notifier.emit(ev({ kind: "certificate.renewed", severity: "info" }));
    await waitFor(() => payloads(recv[0]).some((p) => p.status === "resolved"), { what: "resolved" });
    await h.notifier.flush();
    expect(await h.notifier.stats()).toMatchObject({ openGroups: 0, firingAlerts: 0 });
  });
});

describe("routes", () => {
  it("first match wins, continue sends to later routes too", async () => {
    const routes: NonNullable<AlertsInput["routes"]> = [
      { match: { severity: "critical" }, receivers: ["h0"], continue: true },
      { match: { severity: "critical", service: "db" }, receivers: ["h1"] },
      { match: { severity: ["warning", "critical"] }, receivers: ["h2"] },
    ];
    const { h, recv } = await setup(3, (u) => ({ channels: hooks(u), routes, groupWait: 0 }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "db", message: "db critical" }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api critical" }));
    h.notifier.emit(
      ev({ kind: "deploy.failed", severity: "warning", service: "api", message: "api warning" }),
    );
    expect((await h.notifier.emit(ev({ kind: "deploy.started", severity: "info" }))).accepted).toBe(false);
    await h.notifier.flush();
    const got = recv.map((r) =>
      payloads(r)
        .flatMap((p) => p.alerts.map((a) => a.message))
        .sort(),
    );
    expect(got).toEqual([["api critical", "db critical"], ["db critical"], ["api critical", "api warning"]]);
  });
});

describe("silences", () => {
  let h: Harness;
  let recv: HttpReceiver[];

  it("a silence suppresses matching alerts and its expiry resumes them", async () => {
    ({ h, recv } = await setup(1, (u) => ({ channels: hooks(u), groupWait: "10s" })));
    const s = await h.notifier.addSilence({
      matchers: { service: "api" },
      duration: "1h",
      author: "kim",
      comment: "maintenance of api",
    });
    expect(s).toMatchObject({ state: "active", author: "kim", matchers: { service: ["api"] } });
    expect((await h.notifier.listSilences()).map((x) => x.id)).toEqual([s.id]);

    h.notifier.emit(ev({ kind: "health.degraded", service: "api", message: "api degraded" }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api deploy failed" }));
    h.notifier.emit(ev({ kind: "deploy.failed", service: "web", message: "web deploy failed" }));
    await h.notifier.flush();
    expect(payloads(recv[0]).flatMap((p) => p.alerts.map((a) => a.message))).toEqual(["web deploy failed"]);

    // Expiring: the alert still firing is notified; the one-shot event silenced meanwhile is not.
    expect((await h.notifier.expireSilence(s.id)).state).toBe("expired");
    expect(await h.notifier.listSilences()).toEqual([]);
    expect(await h.notifier.listSilences({ all: true })).toHaveLength(1);
    await h.notifier.flush();
    expect(payloads(recv[0]).flatMap((p) => p.alerts.map((a) => a.message))).toEqual([
      "web deploy failed",
      "api degraded",
    ]);
    // And new alerts flow again.
    h.notifier.emit(ev({ kind: "deploy.failed", service: "api", message: "api failed again" }));
    await h.notifier.flush();
    expect(recv[0].requests).toHaveLength(3);
  });

  it("rejects silences that are incomplete, with a message naming what is missing", async () => {
    ({ h } = await setup(1, (u) => ({ channels: hooks(u) })));
    const base = { matchers: { service: "api" }, duration: "1h", author: "kim", comment: "why" };
    await expect(h.notifier.addSilence({ ...base, matchers: {} })).rejects.toThrow(/at least one matcher/);
    await expect(h.notifier.addSilence({ ...base, author: "" })).rejects.toThrow(/author/);
    await expect(h.notifier.addSilence({ ...base, comment: " " })).rejects.toThrow(/comment/);
    await expect(h.notifier.addSilence({ ...base, duration: "soon" })).rejects.toThrow(/duration "soon"/);
    await expect(h.notifier.addSilence({ ...base, duration: undefined })).rejects.toThrow(UsageError);
    await expect(h.notifier.expireSilence("sil-nope")).rejects.toThrow(/no silence "sil-nope"/);
  });
});
