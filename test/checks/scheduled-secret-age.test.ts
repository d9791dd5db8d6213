/**
 * secret.expiring from the daemon's scheduled checks: warning inside the window, critical past
 * the age, one alert per transition, and `secret.rotated` resolving it. The first-seen dates are
 * handed in (ninety days cannot pass in a test); the check, the runner and the alert mapping are
 * the daemon's own.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EngineEvent, ResolvedSpec } from "../../src/index.js";
import { silentLogger } from "../../src/logger.js";
import { runScheduledChecks } from "../../src/server/scheduled-checks.js";
import { jobsOf } from "../../src/server/scheduler.js";

const DAY = 86_400_000;

describe("scheduled secretAge checks", () => {
  it("warn, then go critical, then resolve when the value is rotated", async () => {
    const home = mkdtempSync(join(tmpdir(), "slipway-secret-age-"));
    const spec = {
      project: "ages",
      env: "prod",
      dir: home,
      checks: [{ kind: "secretAge", severity: "error", maxAge: { JWT_SECRET: 90 * DAY } }],
      services: {},
      schedules: [],
    } as unknown as ResolvedSpec;
    let firstSeen = new Date(Date.now() - 80 * DAY).toISOString();
    const events: Extract<EngineEvent, { type: "alert" }>[] = [];
    const run = () =>
      runScheduledChecks(
        {
          home,
          logger: silentLogger,
          publish: (_s, e) => {
            if (e.type === "alert") events.push(e);
          },
          latest: () => undefined,
          secretAges: () => async () => ({ JWT_SECRET: { firstSeen, source: "envFile .env" } }),
        },
        spec,
        { schedule: "daily" },
      );
    await run();
    await run(); // no change: no second alert
    expect(events.map((e) => `${e.kind} ${e.severity}`)).toEqual(["secret.expiring warning"]);
    expect(events[0].message).toMatch(
      /JWT_SECRET \(envFile \.env\): 80 day\(s\) old, max 90 — 9 day\(s\) left/,
    );
    firstSeen = new Date(Date.now() - 95 * DAY).toISOString();
    await run();
    expect(events.map((e) => `${e.kind} ${e.severity}`).slice(1)).toEqual(["secret.expiring critical"]);
    firstSeen = new Date().toISOString();
    await run();
    expect(events.map((e) => e.kind).slice(2)).toEqual(["secret.rotated"]);
    // A daily job runs secretAge checks even without a `schedules:` entry.
    expect(jobsOf(spec).map((j) => j.name)).toEqual(["tls-expiry"]);
  });
});
