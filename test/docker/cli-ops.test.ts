/**
 * `slipway logs --tail/--follow`, `slipway exec` and `slipway stats` on the Docker target, through
 * the built CLI and the real engine (exec also through the daemon, as users run it); and the
 * daemon routing again to a container that Docker's restart policy started on a new host port.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { freePort, waitFor } from "../support/ports.js";
import { dockerStack } from "./stack.js";

// Each call says --in-process itself: exec also goes through the daemon.
const stack = dockerStack("ops", { inProcess: false });
const { start, cli } = stack;
let port = 0;

beforeAll(async () => {
  await ensureTestImages();
  port = await freePort();
  stack.writeSpec(
    `services:
  web:
    image: slipway-test/app:latest
    port: ${port}
    containerPort: 3000
    health: { http: /health, interval: 300ms, startTimeout: 10s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
    resources: { memory: 128Mi }
    restart: { policy: always }
`,
  );
  const d = await cli(["deploy", "staging", "--version", "v1", "--yes", "--in-process"]);
  expect(d.code, d.stderr).toBe(0);
}, 300_000);

afterAll(() => stack.teardown());

describe("logs, exec and stats on the docker target", () => {
  it("logs --tail N prints the last N lines of the container", async () => {
    const all = await cli(["logs", "staging", "web", "--in-process"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/test app \S+ listening on 3000/);
    expect(all.stdout).toMatch(/│ stderr: health mode ok/);
    const one = await cli(["logs", "staging", "web", "--tail", "1", "--in-process"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("exec runs inside the container, prints its output and exits with its code (via the daemon)", async () => {
    const r = await cli([
      "exec",
      "staging",
      "web",
      "--",
      "sh",
      "-c",
      "echo in $(hostname) $PWD; echo oops >&2; exit 7",
    ]);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toMatch(/^in [0-9a-f]{12} \/app$/m); // the container's hostname and WORKDIR
    expect(r.stdout).toMatch(/oops/);
    const ok = await cli(["exec", "staging", "web", "--json", "--", "cat", "/app/server.mjs"]);
    expect(ok.code, ok.stderr).toBe(0);
    const doc = JSON.parse(ok.stdout) as {
      ok: boolean;
      result: { exitCode: number; output: string; instance: string };
    };
    expect(doc.ok).toBe(true);
    expect(doc.result.exitCode).toBe(0);
    expect(doc.result.output).toMatch(/Slipway's Docker test app/);
    const bad = await cli(["exec", "staging", "nope", "--", "true"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no service "nope"/);
  });

  it("logs --follow prints lines written after it started", async () => {
    const f = start(["logs", "staging", "web", "--follow", "--tail", "0", "--in-process"]);
    try {
      // Written to the app's stdout (PID 1's fd 1, the container's log) from inside the container.
      const marker = `marker-${Date.now()}`;
      const deadline = Date.now() + 15_000;
      while (!f.out().includes(marker) && Date.now() < deadline) {
        await cli([
          "exec",
          "staging",
          "web",
          "--in-process",
          "--",
          "sh",
          "-c",
          `echo ${marker} > /proc/1/fd/1`,
        ]);
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(f.out()).toContain(marker);
      expect(f.exitCode).toBeNull(); // still following
    } finally {
      f.kill("SIGINT");
    }
  });

  it("stats prints CPU and memory against the container's limit; --json is one document", async () => {
    const h = await cli(["stats", "staging", "--in-process"]);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/web-\S+\s+\d+\.\d%\s+[\d.]+ (KiB|MiB) \/ 128\.0 MiB/);
    const j = await cli(["stats", "staging", "web", "--json", "--in-process"]);
    expect(j.code, j.stderr).toBe(0);
    const doc = JSON.parse(j.stdout) as {
      result: {
        instances: { service: string; stats: { cpu: number; memory: number; memoryLimit: number } }[];
      };
    };
    expect(doc.result.instances).toHaveLength(1);
    const s = doc.result.instances[0]?.stats;
    expect(s?.memoryLimit).toBe(128 * 1024 * 1024);
    expect(s?.memory).toBeGreaterThan(1024 * 1024); // node uses a few MiB at least
    expect(s?.cpu).toBeGreaterThanOrEqual(0);
  });

  it("a container restarted by Docker on a new host port is routed to again by the daemon", async () => {
    const st = await cli(["status", "staging"]); // through the daemon: it does the housekeeping
    expect(st.code, st.stderr).toBe(0);
    const [c] = await stack.containers();
    const hostPort = () => {
      try {
        return execFileSync("docker", ["port", c.Id, "3000/tcp"], { encoding: "utf8", stdio: "pipe" }).trim();
      } catch {
        return ""; // restarting: no port yet
      }
    };
    const before = hostPort();
    // The app exits 0 on SIGTERM; `restart: always` has the engine start it again, and Docker
    // publishes a dynamically bound port anew on every start.
    try {
      execFileSync("docker", ["exec", c.Id, "node", "-e", "process.kill(1, 'SIGTERM')"], { stdio: "pipe" });
    } catch {
      /* the exec'd process may go down with the container: the port check below says what happened */
    }
    const after = await waitFor(() => hostPort() !== before && hostPort(), {
      timeoutMs: 30_000,
      what: "the container running again on a new host port",
    });
    expect(after).not.toBe(before);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).ok,
      { timeoutMs: 20_000, what: "the proxy answering from the restarted container" },
    );
    // The same container, routed to again (not replaced by a new one).
    expect((await stack.containers()).map((x) => x.Id)).toEqual([c.Id]);
  }, 90_000);
});
