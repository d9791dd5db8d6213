/**
 * The scheduled health sweep (`schedules: [{ run: health, heal: restart }]`): an instance whose
 * process is alive but whose health endpoint answers 500, or stops answering, is restarted by
 * the daemon, with health.degraded / health.recovered delivered to a webhook.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpReceiver, type HttpReceiver } from "../support/receivers.js";
import { webhookAlerts } from "../support/deployed-env.js";
import { APP, makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
let hooks: HttpReceiver | undefined;
afterEach(async () => {
  await project?.cleanup();
  await hooks?.close();
  project = undefined;
  hooks = undefined;
});

/** The e2e app, plus /sicken (its /health answers 500 from then on) and /hang (it never answers). */
const SICK_APP = APP.replace(
  'if (req.url === "/health") {',
  [
    'if (req.url === "/sicken") { globalThis.sick = "500"; return res.end("sick"); }',
    'if (req.url === "/hang") { globalThis.sick = "hang"; return res.end("hanging"); }',
    'if (req.url === "/health") {',
    '  if (globalThis.sick === "500") { res.writeHead(500); return res.end("sick"); }',
    '  if (globalThis.sick === "hang") return;',
  ].join("\n"),
);

const EXTRA = `schedules:
  - { name: sweep, cron: "*/2 * * * * *", run: health, heal: restart }
${webhookAlerts("ALERT_WEBHOOK_URL")}`;

interface StatusJson {
  result: { services: { name: string; status: string; instances: { id: string; pid?: number }[] }[] };
}

describe("scheduled health sweep", () => {
  it("restarts an instance that answers 500, then one that hangs; alerts degraded and recovered", async () => {
    expect(SICK_APP).not.toBe(APP);
    hooks = await startHttpReceiver();
    const p = (project = await makeProject(EXTRA));
    writeFileSync(join(p.dir, "app", "app.js"), SICK_APP);
    const env = { ALERT_WEBHOOK_URL: `${hooks.url}/hook` };
    const d = p.cli(["deploy", "development", "--version", "v1"], { env });
    expect(d.code, d.stderr).toBe(0);
    const apiInstance = () =>
      p
        .cli(["status", "development", "--json"], { env })
        .json<StatusJson>()
        .result.services.find((s) => s.name === "api")!;
    const first = apiInstance().instances[0];

    for (const [trigger, before] of [
      ["/sicken", first],
      ["/hang", undefined],
    ] as const) {
      const old = before ?? apiInstance().instances[0];
      expect((await p.get("api", trigger)).body).not.toBe("v1");
      const now = await waitFor(
        () => {
          const a = apiInstance();
          return a.status === "running" && a.instances.length === 1 && a.instances[0].id !== old.id
            ? a.instances[0]
            : undefined;
        },
        { what: `api restarted after ${trigger}`, timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(now.pid).not.toBe(old.pid);
      // Status probes the replacement itself; the route follows the sweep's own health gate.
      await waitFor(async () => (await p.get("api", "/health")).status === 200, {
        what: `the proxy routing api to the replacement after ${trigger}`,
        timeoutMs: 5_000,
        intervalMs: 100,
      });
    }
    expect((await p.get("api")).body).toBe("v1");
    const events = () =>
      hooks!.requests.flatMap((r) => {
        const body = JSON.parse(r.body) as {
          status: string;
          alerts: { status?: string; labels: Record<string, string>; message: string }[];
        };
        return body.alerts.map((a) => ({ ...a, status: a.status ?? body.status }));
      });
    await waitFor(() => events().some((e) => e.labels.event === "health.degraded" && /500/.test(e.message)), {
      what: "health.degraded delivered",
      timeoutMs: 10_000,
    });
    const all = events();
    const restarted = all.filter((e) => e.labels.event === "instance.restarted");
    expect(restarted.map((e) => e.message).join("\n")).toMatch(/failed its health probe/);
    expect(
      all.some((e) => e.labels.event === "health.degraded" && /timed out|timeout/i.test(e.message)),
    ).toBe(true);
    const health = all.filter((e) => /^(health|instance)\./.test(e.labels.event));
    expect(
      health.every((e) => e.labels.service === "api"),
      JSON.stringify(health),
    ).toBe(true);
    // Each episode closes: the degraded alerts are sent again as resolved (the second one is
    // delivered by the outbox after the replacement passed its gate, possibly after the above).
    const resolved = () =>
      events().filter((e) => e.labels.event === "health.degraded" && e.status === "resolved").length;
    await waitFor(() => resolved() >= 2, { what: "both degraded alerts resolved", timeoutMs: 15_000 }).catch(
      () => undefined,
    );
    expect(resolved()).toBe(2);
  });
});
