/** A release that crash-loops after it went live is rolled back by the daemon (seed 001). */
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface HistoryJson {
  result: {
    revision: { number: number; version: string; status: string; description: string; rollbackOf?: number };
  }[];
}

describe("crash-loop rollback", () => {
  it("every instance crash-looping longer than rollbackAfter: the daemon rolls back to the previous revision", async () => {
    const p = (project = await makeProject());
    const env = { CRASH_ROLLBACK_AFTER: "2s" };
    expect(p.cli(["deploy", "development", "--version", "v1"], { env }).code).toBe(0);
    // v2 passes its health gate, then exits every 1.2 s: a crash loop after 3 restarts.
    const d = p.cli(["deploy", "development", "--version", "v2"], {
      env: { ...env, CRASH_AFTER_MS: "1200" },
    });
    expect(d.code, d.stderr).toBe(0);
    const h = await waitFor(
      () => {
        const r = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
        return r[0].revision.rollbackOf === 1 && r[0].revision.status === "deployed" ? r : undefined;
      },
      { what: "an automatic rollback to revision 1", timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(h[0].revision.description).toMatch(/automatic rollback: api crash-looped/);
    expect(h[1].revision).toMatchObject({ number: 2, status: "rolled-back" });
    await waitFor(async () => (await p.get("api").catch(() => ({ body: "" }))).body === "v1", {
      what: "v1 serving",
      timeoutMs: 15_000,
    });
  });
});
