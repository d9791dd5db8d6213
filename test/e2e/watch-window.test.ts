/**
 * The post-deploy watch after its auto-rollback window (analysis.watch.alertWindow): a critical
 * metric failing then raises a critical analysis.breach and the release stays; a warning metric
 * failing inside the window alerts and decides nothing.
 */
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { freePort } from "../support/ports.js";
import { makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
let server: Server | undefined;
afterEach(async () => {
  await project?.cleanup();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  project = undefined;
  server = undefined;
});

interface RevisionJson {
  number: number;
  status: string;
  finishedAt?: string;
  facts: { analysis?: { phase: string; result: { outcome: string; summary: string } }[] };
}

describe("post-deploy watch windows", () => {
  it("a warning breach in the window only alerts; a critical breach after the window alerts and does not roll back", async () => {
    // The metrics' source: an HTTP server whose answers the test controls.
    const values = { errors: 0, queue: 99 };
    server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(req.url === "/backlog" ? { queue: values.queue } : { errors: values.errors }));
    });
    const port = await freePort();
    await new Promise<void>((r) => server!.listen(port, "127.0.0.1", () => r()));
    const p = (project = await makeProject(`analysis:
  interval: 300ms
  bake: 0s
  metrics:
    - { name: app-errors, provider: json, url: "http://127.0.0.1:${port}/", query: errors, max: 1% }
    - { name: backlog, provider: json, url: "http://127.0.0.1:${port}/backlog", query: queue, max: 10, severity: warning }
  watch: { autoRollbackWindow: 3s, alertWindow: 1m }
`));
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const d = p.cli(["deploy", "development", "--version", "v2"]);
    expect(d.code, d.stderr).toBe(0);
    const history = () =>
      p.cli(["history", "development", "--json"]).json<{ result: { revision: RevisionJson }[] }>().result;
    const events = async () => {
      const store = SqliteStore.open({ home: p.home });
      try {
        return (await store.listEvents("e2e", "development")).filter((e) => e.kind === "analysis.breach");
      } finally {
        await store.close();
      }
    };
    // Inside v2's window the warning metric fails: one warning alert, no decision.
    await waitFor(async () => (await events()).some((e) => e.revision === 2 && e.severity === "warning"), {
      what: "the warning alert of revision 2",
      timeoutMs: 10_000,
    });
    const v2 = history()[0].revision;
    expect(v2).toMatchObject({ number: 2, status: "deployed" });
    // Past the window, the critical metric fails.
    const windowEnd = Date.parse(v2.finishedAt!) + 3000;
    await new Promise((r) => setTimeout(r, Math.max(0, windowEnd - Date.now()) + 1000));
    expect(history()[0].revision).toMatchObject({ number: 2, status: "deployed" });
    values.errors = 0.05;
    const breach = await waitFor(
      async () => (await events()).find((e) => e.revision === 2 && e.severity === "critical"),
      { what: "a critical analysis.breach after the window", timeoutMs: 10_000 },
    );
    expect(breach.message).toMatch(
      /failed: app-errors .*past the 3(\.0)?s auto-rollback window; not rolled back/,
    );
    expect(breach.message).toContain("slipway rollback development");
    // No rollback follows: revision 2 stays deployed, no revision 3.
    await new Promise((r) => setTimeout(r, 2000));
    const h = history();
    expect(h.map((x) => [x.revision.number, x.revision.status])).toEqual([
      [2, "deployed"],
      [1, "superseded"],
    ]);
    const watch = h[0].revision.facts.analysis?.find((e) => e.phase === "watch");
    expect(watch?.result.outcome).toBe("failed");
    // The warning metric alerted once for revision 2, however long it kept failing.
    expect((await events()).filter((e) => e.revision === 2 && e.severity === "warning")).toHaveLength(1);
  });
});
