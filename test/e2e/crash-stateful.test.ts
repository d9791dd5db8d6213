/**
 * Crash recovery of a stateful service (issue 11, items A and 8): the daemon killed with -9 while
 * a `recreate` rollout starts the new release (the old instance already stopped). The next command
 * recovers: the environment ends fully on the old revision, with exactly one instance of the
 * stateful service, never none and never two.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appProcesses, killDaemon, makeProject, waitFor, type Project } from "./harness.js";

type Inst = { id: string; revision: number; version: string; pid?: number; state: string };
type StatusJson = {
  result: {
    revision?: { number: number; status: string };
    services: { name: string; status: string; instances: Inst[] }[];
  };
};
type Step = { kind: string; service?: string; status: string };
type HistoryJson = { result: { revision: { number: number; status: string; version: string } }[] };

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

/** The harness wrote a spec with three services; this test needs only the stateful one. */
function useSpec(p: Project): void {
  writeFileSync(
    p.file,
    `project: e2e
environments:
  development:
    target: process
services:
  db:
    run: node app.js
    path: ./app
    port: ${p.ports.api}
    stateful: true
    env:
      RELEASE: "\${VERSION}"
      START_DELAY_MS: "\${START_DELAY_MS:-0}"
    health: { http: /health, interval: 200ms, timeout: 1s, startTimeout: 30s }
    stop: { grace: 2s }
`,
  );
}

const dbInstances = (p: Project): Inst[] =>
  p
    .cli(["status", "development", "--json"])
    .json<StatusJson>()
    .result.services.find((s) => s.name === "db")?.instances ?? [];

describe("crash recovery of a stateful service", () => {
  it("kill -9 while the new release starts: recovery restarts the old revision, one instance", async () => {
    const p = (project = await makeProject());
    useSpec(p);
    const d1 = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d1.code, d1.stderr).toBe(0);
    const [v1] = dbInstances(p);
    expect(v1).toMatchObject({ revision: 1, version: "v1" });

    const deploying = p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { START_DELAY_MS: "20000" },
    });
    // The old instance stopped and the new one's process is up (not yet healthy).
    await waitFor(
      () => {
        const r = p.cli(["history", "development", "2", "--json", "--in-process"]);
        if (r.code !== 0) return false;
        const steps = r.json<{ result: { steps: Step[] }[] }>().result[0].steps;
        if (!steps.some((x) => x.kind === "rollout" && x.service === "db" && x.status === "running"))
          return false;
        const apps = appProcesses(p.dir);
        return apps.length === 1 && apps[0].pid !== v1.pid;
      },
      { what: "the new db process started", intervalMs: 100, timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    killDaemon(p.home, "SIGKILL");
    const cut = await deploying;
    expect(cut.code).not.toBe(0);

    // The next command starts a new daemon, which recovers the interrupted deploy.
    const st = p.cli(["status", "development", "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const log = readFileSync(join(p.home, "daemon.log"), "utf8").split("\n").slice(-15).join("\n");
    const s = st.json<StatusJson>().result;
    expect(s.revision, log).toMatchObject({ number: 1, status: "deployed" });
    const db = s.services.find((x) => x.name === "db");
    expect(db?.status, log).toBe("running");
    expect(db?.instances.map((i) => [i.revision, i.version])).toEqual([[1, "v1"]]);
    const h = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
    expect(h.find((x) => x.revision.number === 2)?.revision.status).toBe("failed");
    expect((await p.get("api")).body).toBe("v1");
    await waitFor(() => appProcesses(p.dir).length === 1, {
      what: "exactly one db process",
      timeoutMs: 15_000,
    });
  });
});
