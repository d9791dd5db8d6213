/** The age of a secret value as the check reports it. */
import { describe, expect, it } from "vitest";
import { secretAgeRow } from "./secret-age.js";

const DAY = 86_400_000;

describe("secretAgeRow", () => {
  it("a value first seen a moment after the check's clock was read is 0 days old, not -1", () => {
    const now = new Date("2026-12-06T15:00:00.000Z");
    const seen = { firstSeen: new Date(now.getTime() + 5).toISOString(), source: "envFile .env" };
    expect(secretAgeRow("JWT_SECRET", seen, 30 * DAY, now)).toMatchObject({ ageDays: 0, state: "ok" });
  });

  it("counts whole days and fails past the age", () => {
    const now = new Date("2026-12-06T15:00:00.000Z");
    const seen = { firstSeen: new Date(now.getTime() - 31 * DAY).toISOString(), source: "envFile .env" };
    expect(secretAgeRow("JWT_SECRET", seen, 30 * DAY, now)).toMatchObject({ ageDays: 31, state: "expired" });
  });
});
