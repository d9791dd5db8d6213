/** Self-heal: an instance whose supervisor was killed is replaced by the daemon's housekeeping. */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { appProcesses, makeProject, waitFor, type Project } from "./harness.js";

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

interface StatusJson {
  result: { services: { name: string; status: string; instances: { id: string; pid?: number }[] }[] };
}

/** The supervisor (shim) of an app process: the nearest ancestor whose command line says shim. */
function shimOf(pid: number): number {
  let cur = pid;
  for (let i = 0; i < 4; i++) {
    const stat = readFileSync(`/proc/${cur}/stat`, "utf8");
    cur = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (readFileSync(`/proc/${cur}/cmdline`, "utf8").includes("shim")) return cur;
  }
  throw new Error(`no shim above pid ${pid}`);
}

describe("self-heal", () => {
  it("kill -9 of an instance's supervisor: the daemon starts a replacement and routes to it", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    const api = st.services.find((s) => s.name === "api")!.instances[0];
    process.kill(shimOf(api.pid!), "SIGKILL");
    await waitFor(
      () => {
        const s = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
        const a = s.services.find((x) => x.name === "api")!;
        return a.status === "running" && a.instances.length === 1 && a.instances[0].id !== api.id;
      },
      { what: "a replacement api instance", timeoutMs: 30_000, intervalMs: 500 },
    );
    // Status shows the replacement once it passes its probe; the route to it follows that gate
    // (with one instance, requests between the kill and the re-route cannot be served).
    await waitFor(async () => (await p.get("api")).body === "v1", {
      what: "the proxy routing api to the replacement",
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    // The old app process did not survive its supervisor; exactly one per service runs.
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "3 app processes", timeoutMs: 15_000 });
  });
});
