/**
 * The core promise, end to end with the real CLI, the real daemon, the real proxy and real
 * app processes: deploy, redeploy, history, rollback; failed health; locks; protection; crash
 * recovery after kill -9 of the daemon.
 */
import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import {
  appProcesses,
  BIN,
  daemonInfo,
  daemonPid,
  killDaemon,
  makeProject,
  waitFor,
  type Project,
} from "./harness.js";

interface StatusJson {
  result: {
    revision?: { number: number; version: string; status: string };
    services: {
      name: string;
      status: string;
      instances: { revision: number; version: string; state: string; health?: { ok: boolean } }[];
    }[];
  };
}
interface HistoryJson {
  result: {
    revision: { number: number; version: string; status: string; rollbackOf?: number; reason?: string };
  }[];
}

type Step = {
  seq: number;
  kind: string;
  service?: string;
  status: string;
  message?: string;
  startedAt?: string;
};

let project: Project | undefined;
afterEach(async () => {
  await project?.cleanup();
  project = undefined;
});

describe("deploy, redeploy, history, rollback", () => {
  it("serves every release, records the history and rolls back to a chosen revision", async () => {
    const p = (project = await makeProject());
    const d1 = p.cli(["deploy", "development", "--version", "v1"]);
    expect(d1.code, d1.stderr).toBe(0);
    expect(d1.stdout).toContain(`http://127.0.0.1:${p.ports.web}`);
    expect(d1.stderr).toMatch(/✔ start api .* healthy, serving/);
    expect((await p.get("web")).body).toBe("v1");
    expect((await p.get("api")).body).toBe("v1");
    // The daemon the CLI started: its socket only its owner can open, its TCP API on loopback.
    const daemon = daemonInfo(p.home);
    expect(daemon.socket).toBe(join(p.home, "daemon.sock"));
    expect(statSync(daemon.socket).isSocket()).toBe(true);
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o600);
    expect(new URL(daemon.url).hostname).toBe("127.0.0.1");

    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st.revision).toMatchObject({ number: 1, version: "v1", status: "deployed" });
    expect(st.services.map((s) => [s.name, s.status, s.instances.length])).toEqual([
      ["api", "running", 1],
      ["web", "running", 1],
      ["worker", "running", 1],
    ]);
    expect(st.services[0].instances[0].health?.ok).toBe(true);

    for (const v of ["v2", "v3"]) {
      const d = p.cli(["deploy", "development", "--version", v, "--json"]);
      expect(d.code, d.stderr).toBe(0);
      expect((await p.get("web")).body).toBe(v);
    }
    const h = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
    expect(h.map((x) => [x.revision.number, x.revision.version, x.revision.status])).toEqual([
      [3, "v3", "deployed"],
      [2, "v2", "superseded"],
      [1, "v1", "superseded"],
    ]);

    const rb = p.cli(["rollback", "development", "1", "--json"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.json<{ result: { revision: number } }>().result.revision).toBe(4);
    expect((await p.get("web")).body).toBe("v1");
    expect((await p.get("api")).body).toBe("v1");
    const h2 = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
    expect(h2[0].revision).toMatchObject({ number: 4, version: "v1", status: "deployed", rollbackOf: 1 });
    expect(h2[1].revision).toMatchObject({ number: 3, status: "rolled-back" });

    // Old slots were retired: exactly one app process per service.
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "3 app processes", timeoutMs: 15_000 });

    const logs = p.cli(["logs", "development", "api", "--tail", "5"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("listening v1");

    const steps = p
      .cli(["history", "development", "4", "--json"])
      .json<{ result: { steps: { kind: string; status: string }[] }[] }>();
    expect(steps.result[0].steps.every((s) => s.status === "ok")).toBe(true);
  });

  it("a release that never gets healthy fails, leaves the old one serving, exits 1 with the log", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const bad = p.cli(["deploy", "development", "--version", "v2"], {
      env: { FAIL_HEALTH: "1", START_TIMEOUT: "2s" },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/api: instance .* did not become healthy/);
    expect(bad.stderr).toContain("listening v2"); // the failing instance's last log lines
    // Its logs stay readable by revision, and the failure says how.
    expect(bad.stderr).toContain("slipway logs development api --revision 2)");
    expect(bad.stderr).not.toContain("docker logs");
    const logs = p.cli(["logs", "development", "api", "--revision", "2"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("listening v2");
    expect((await p.get("api")).body).toBe("v1");
    expect((await p.get("web")).body).toBe("v1");
    const h = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
    expect(h[0].revision).toMatchObject({ number: 2, status: "failed" });
    expect(h[0].revision.reason).toMatch(/did not become healthy/);
    expect(h[1].revision).toMatchObject({ number: 1, status: "deployed" });
    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st.services.flatMap((s) => s.instances.map((i) => i.version))).toEqual(["v1", "v1", "v1"]);
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "candidates gone", timeoutMs: 15_000 });
  });

  it("a failure in a later layer undoes the earlier layer too, in reverse order", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    // api (first layer) switches to v2, then web (second layer) never gets healthy.
    const bad = p.cli(["deploy", "development", "--version", "v2", "--json"], {
      env: { WEB_FAIL_HEALTH: "1", WEB_START_TIMEOUT: "2s" },
    });
    expect(bad.code).toBe(1);
    const err = bad.json<{
      error: { message: string; details: { undo: { service: string; ok: boolean; message: string }[] } };
    }>().error;
    expect(err.message).toMatch(/web: instance .* did not become healthy/);
    const h = p.cli(["history", "development", "2", "--json"]).json<{
      result: {
        revision: { status: string; facts: { undo: { service: string; ok: boolean; message: string }[] } };
        steps: (Step & { data?: { phase?: string } })[];
      }[];
    }>().result[0];
    expect(h.revision.status).toBe("failed");
    // api had been switched to v2 before web failed…
    expect(h.steps.find((x) => x.kind === "rollout" && x.service === "api")).toMatchObject({
      status: "ok",
      data: { phase: "routed" },
    });
    expect(h.steps.find((x) => x.kind === "rollout" && x.service === "web")?.status).toBe("failed");
    // worker (web's layer) had rolled out too: its step stays ok; only what never started is skipped.
    expect(h.steps.find((x) => x.kind === "rollout" && x.service === "worker")).toMatchObject({
      status: "ok",
      message: "1 instance(s) healthy",
    });
    const undoSteps = h.steps.filter((x) => x.kind === "undo");
    const planSteps = h.steps.filter((x) => x.kind !== "undo");
    expect(planSteps.filter((x) => x.status === "skipped").map((x) => x.kind)).toEqual(["finalize"]);
    for (const x of planSteps.filter((y) => y.status === "skipped")) expect(x.startedAt).toBeUndefined();
    expect(planSteps.every((x) => ["ok", "failed", "skipped"].includes(x.status))).toBe(true);
    // The undo is journaled as its own steps, after the plan's, one per service, in undo order.
    expect(Math.min(...undoSteps.map((x) => x.seq))).toBeGreaterThan(
      Math.max(...planSteps.map((x) => x.seq)),
    );
    expect(undoSteps.map((x) => [x.service, x.status])).toEqual(
      h.revision.facts.undo.map((u) => [u.service, "ok"]),
    );
    // …so the undo went through the second layer first and api last, as the error also says.
    const order = h.revision.facts.undo.map((u) => u.service);
    expect(order.at(-1)).toBe("api");
    expect(order.indexOf("web")).toBeLessThan(order.indexOf("api"));
    expect(h.revision.facts.undo.every((u) => u.ok)).toBe(true);
    expect(err.details.undo.map((u) => u.service)).toEqual(order);
    expect((await p.get("api")).body).toBe("v1");
    expect((await p.get("web")).body).toBe("v1");
    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st.revision).toMatchObject({ number: 1, version: "v1", status: "deployed" });
    expect(st.services.map((x) => [x.name, x.status, x.instances.map((i) => i.version)])).toEqual([
      ["api", "running", ["v1"]],
      ["web", "running", ["v1"]],
      ["worker", "running", ["v1"]],
    ]);
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "v2 candidates gone", timeoutMs: 15_000 });
  });

  it("a failed deploy that changed the port leaves the old port serving the old release", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1", "--only", "api"]).code).toBe(0);
    const newPort = await freePort();
    writeFileSync(p.file, readFileSync(p.file, "utf8").replace(`port: ${p.ports.api}`, `port: ${newPort}`));
    const bad = p.cli(["deploy", "development", "--version", "v2", "--only", "api"], {
      env: { FAIL_HEALTH: "1", START_TIMEOUT: "2s" },
    });
    expect(bad.code, bad.stderr).toBe(1);
    // The undo puts traffic back where the deployed revision had it, not on the failed spec's port.
    expect((await p.get("api")).body).toBe("v1");
    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st.revision).toMatchObject({ number: 1, status: "deployed" });
    const onNew = await fetch(`http://127.0.0.1:${newPort}/`).then(
      (r) => `HTTP ${r.status}`,
      () => "refused",
    );
    expect(onNew).toBe("refused");
  });

  it("a first deploy that fails leaves nothing running", async () => {
    const p = (project = await makeProject());
    const r = p.cli(["deploy", "development", "--version", "v1", "--in-process"], {
      env: { CRASH_AT_START: "1", START_TIMEOUT: "2s" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("boom: crashing at start");
    await waitFor(() => appProcesses(p.dir).length === 0, { what: "no app processes", timeoutMs: 15_000 });
  });
});

describe("plan, dry run, health, degraded and stop on one deployed environment", () => {
  it("plans as data, dry-runs without a revision, probes health and stops one service", async () => {
    const p = (project = await makeProject());
    const none = p.cli(["health", "development"]);
    expect(none.code, none.stderr).toBe(1); // nothing deployed is not healthy
    expect(none.stdout).toContain("nothing deployed");
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);

    const plan = p.cli(["plan", "development", "--version", "v2", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const pl = plan.json<{
      result: {
        revision: number;
        current: { number: number; version: string };
        layers: string[][];
        steps: { kind: string; service?: string; group: number; change?: string }[];
      };
    }>().result;
    expect(pl).toMatchObject({ revision: 2, current: { number: 1, version: "v1" } });
    expect(pl.layers.map((l) => [...l].sort())).toEqual([["api"], ["web", "worker"]]);
    const rollouts = pl.steps.filter((x) => x.kind === "rollout");
    expect(rollouts.map((x) => [x.service, x.change]).sort()).toEqual([
      ["api", "update"],
      ["web", "update"],
      ["worker", "update"],
    ]);
    // api's layer runs before the layer that depends on it.
    const group = (svc: string) => rollouts.find((x) => x.service === svc)!.group;
    expect(group("api")).toBeLessThan(group("web"));
    expect(group("web")).toBe(group("worker"));

    const dry = p.cli(["deploy", "development", "--version", "v2", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<{ result: { dryRun: boolean; plan: { revision: number } } }>().result).toMatchObject({
      dryRun: true,
      plan: { revision: 2 },
    });
    expect(p.cli(["history", "development", "--json"]).json<HistoryJson>().result).toHaveLength(1);
    expect((await p.get("api")).body).toBe("v1");

    const healthy = p.cli(["health", "development"]);
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);

    // A web instance that stops answering (SIGSTOP: alive, so nothing restarts it) is degraded.
    const st0 = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    // status reports the app's own pid (the shell execs a simple `run` command).
    const webPid = (st0.services.find((x) => x.name === "web")!.instances[0] as { pid?: number }).pid!;
    expect(readFileSync(`/proc/${webPid}/cmdline`, "utf8").split("\0").slice(0, 2)).toEqual([
      "node",
      "app.js",
    ]);
    process.kill(webPid, "SIGSTOP");
    try {
      const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
      const web = st.services.find((x) => x.name === "web")!;
      expect(web.status).toBe("degraded");
      expect(web.instances[0].health?.ok).toBe(false);
      expect(st.services.filter((x) => x.name !== "web").map((x) => x.status)).toEqual([
        "running",
        "running",
      ]);
    } finally {
      process.kill(webPid, "SIGCONT");
    }

    const stop = p.cli(["stop", "development", "api"]);
    expect(stop.code, stop.stderr).toBe(0);
    const st = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    expect(st.services.map((x) => [x.name, x.status, x.instances.length])).toEqual([
      ["api", "stopped", 0],
      ["web", "running", 1],
      ["worker", "running", 1],
    ]);
    await waitFor(() => appProcesses(p.dir).length === 2, { what: "api's process gone", timeoutMs: 15_000 });
    await expect(p.get("api")).rejects.toThrow();
    expect((await p.get("web")).body).toBe("v1");
    const unhealthy = p.cli(["health", "development"]);
    expect(unhealthy.code).toBe(1);
  });
});

describe("locks and protection", () => {
  it("smoke runs the deployed release's smoke requests on demand; a failing one exits 1", async () => {
    const site = await freePort();
    const p = (project = await makeProject(`  site:
    run: node app.js
    path: ./app
    port: ${site}
    health: { http: /health, interval: 200ms }
    smoke:
      - { http: /health }
      - { http: /, expectBody: v1 }
`));
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const ok = p.cli(["smoke", "development", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);
    const r = ok.json<{
      result: {
        revision: number;
        results: { service: string; path: string; ok: boolean; status: number }[];
        skipped: string[];
      };
    }>().result;
    expect(r.revision).toBe(1);
    expect(r.results.map((x) => [x.service, x.path, x.ok, x.status])).toEqual([
      ["site", "/health", true, 200],
      ["site", "/", true, 200],
    ]);
    expect([...r.skipped].sort()).toEqual(["api", "web", "worker"]);
    // The same requests fail once nothing serves the port: exit 1, the failure named.
    expect(p.cli(["stop", "development", "site"]).code).toBe(0);
    const bad = p.cli(["smoke", "development", "site"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/✖ site: smoke GET \/health (returned 50\d, expected 200|failed: )/);
    expect(bad.stdout).toContain("2 of 2 smoke request(s) failed (revision 1)");
    // A service without smoke requests is a usage error (exit 2), not a pass.
    const none = p.cli(["smoke", "development", "api"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("api has no smoke requests to run");
  });

  it("of concurrent deploys exactly one runs; the others exit 3 naming the holder", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["status", "development"]).code).toBe(0); // starts the daemon
    const runs = await Promise.all(
      ["a", "b", "c"].map((v) =>
        p.cliAsync(["deploy", "development", "--version", v], { env: { START_DELAY_MS: "1500" } }),
      ),
    );
    const codes = runs.map((r) => r.code).sort();
    expect(codes).toEqual([0, 3, 3]);
    for (const r of runs.filter((x) => x.code === 3))
      expect(r.stderr).toMatch(/locked by .* \(deploy\) since/);
    expect(p.cli(["history", "development", "--json"]).json<HistoryJson>().result).toHaveLength(1);
  });

  it("lock --release refuses a live holder; a dead holder's lock is recovered and released", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    type LockJson = {
      result: { lock: { holder: string; pid: number; operation: string; acquiredAt: string } | null };
    };
    const slow = p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { START_DELAY_MS: "2500" },
    });
    const daemon = daemonPid(p.home);
    let lock: LockJson["result"]["lock"] = null;
    await waitFor(
      () => (lock = p.cli(["lock", "development", "--json"]).json<LockJson>().result.lock) !== null,
      {
        what: "the deploy's lock",
        intervalMs: 50,
      },
    );
    expect(lock).toMatchObject({ operation: "deploy", pid: daemon });
    expect(lock!.holder).toMatch(new RegExp(`pid ${daemon}/\\d+@`));
    const refused = p.cli(["lock", "development", "--release"]);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`locked by ${lock!.holder} (deploy) since ${lock!.acquiredAt}`);
    expect(refused.stderr).toContain("not released");
    const done = await slow;
    expect(done.code, done.stderr).toBe(0);
    expect((await p.get("api")).body).toBe("v2");

    // An in-process deploy killed with -9 leaves its lock behind with a dead pid.
    const child = spawn(
      process.execPath,
      [BIN, "-f", p.file, "deploy", "development", "--version", "v3", "--in-process"],
      {
        env: { ...p.env, START_DELAY_MS: "5000" },
        stdio: "ignore",
      },
    );
    await waitFor(
      () => {
        const r = p.cli(["history", "development", "3", "--json", "--in-process"]);
        if (r.code !== 0) return false;
        const steps = r.json<{ result: { steps: Step[] }[] }>().result[0].steps;
        return steps.some((x) => x.kind === "rollout" && x.service === "api" && x.status === "running");
      },
      { what: "v3's api rollout", intervalMs: 50, timeoutMs: 30_000 },
    );
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(p.cli(["lock", "development", "--json"]).json<LockJson>().result.lock?.pid).toBe(child.pid);
    const released = p.cli(["lock", "development", "--release", "--json"]);
    expect(released.code, released.stderr).toBe(0);
    expect(
      released.json<{
        result: { released: boolean; recovery: { revisions: { number: number; outcome: string }[] } };
      }>().result,
    ).toMatchObject({ released: true, recovery: { revisions: [{ number: 3, outcome: "rolled-back" }] } });
    expect(p.cli(["lock", "development", "--json"]).json<LockJson>().result.lock).toBeNull();
    expect((await p.get("api")).body).toBe("v2");
    const next = p.cli(["deploy", "development", "--version", "v4"]);
    expect(next.code, next.stderr).toBe(0);
    expect((await p.get("web")).body).toBe("v4");
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "no orphan of v3", timeoutMs: 15_000 });
  });

  it("a port another environment's route serves is refused with exit 4 before anything starts", async () => {
    const p = (project = await makeProject());
    expect(p.cli(["deploy", "development", "--version", "v1", "--only", "api"]).code).toBe(0);
    // production names the same port on the same machine
    const r = p.cli(["deploy", "production", "--version", "v1", "--only", "api", "--yes"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(
      `port ${p.ports.api} of api (127.0.0.1:${p.ports.api}) is already served by e2e/development/api`,
    );
    expect(r.stderr).not.toContain("start api");
    expect(p.cli(["history", "production"]).stdout).toContain("no revisions yet");
    expect((await p.get("api")).body).toBe("v1");
  });

  it("Ctrl-C on a deploy the daemon runs detaches with exit 130, not an internal error", async () => {
    const p = (project = await makeProject());
    const child = spawn(process.execPath, [BIN, "-f", p.file, "deploy", "development", "--version", "v1"], {
      env: { ...p.env, START_DELAY_MS: "3000" },
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    await waitFor(() => err.includes("start api"), { what: "the rollout started", timeoutMs: 30_000 });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(code, err).toBe(130);
    expect(err).toContain("interrupted: the deploy goes on in the daemon (see: slipway status development)");
    expect(err).not.toContain("internal error");
    // It did go on: the daemon finishes the deploy.
    await waitFor(() => p.cli(["lock", "development"]).stdout.includes("not locked"), {
      what: "the deploy finished in the daemon",
      timeoutMs: 60_000,
    });
    expect((await p.get("api")).body).toBe("v1");
  });

  it("a protected environment without --yes exits 4 and changes nothing", async () => {
    const p = (project = await makeProject());
    for (const args of [
      ["deploy", "production"],
      ["rollback", "production", "1"],
      ["destroy", "production"],
    ]) {
      const r = p.cli([...args, "--in-process"]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/protected: .* needs --yes/);
    }
    expect(p.cli(["history", "production", "--json", "--in-process"]).json<HistoryJson>().result).toEqual([]);
    expect(appProcesses(p.dir)).toEqual([]);
    const ok = p.cli(["deploy", "production", "--yes", "--in-process", "--version", "p1"]);
    expect(ok.code, ok.stderr).toBe(0);
    p.cli(["destroy", "production", "--yes", "--in-process"]);
  });

  it("a wrong spec exits 2 with file:line:column, also as one JSON document", async () => {
    const p = (project = await makeProject());
    const { writeFileSync, readFileSync } = await import("node:fs");
    writeFileSync(
      p.file,
      readFileSync(p.file, "utf8").replace(
        "interval: 200ms, timeout: 1s, startTimeout",
        "interval: soon, timeout: 1s, startTimeout",
      ),
    );
    const r = p.cli(["validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /slipway\.yaml:\d+:\d+: services\.api\.health\.interval: expected a duration like 5s/,
    );
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const j = p.cli(["deploy", "development", "--json"]);
    expect(j.code).toBe(2);
    expect(j.json<{ ok: boolean; error: { name: string } }>()).toMatchObject({
      ok: false,
      error: { name: "SpecError" },
    });
  });
});

describe("crash recovery", () => {
  const points = [
    {
      name: "while the candidate of api is starting",
      until: (s: Step[]) =>
        s.some((x) => x.kind === "rollout" && x.service === "api" && x.status === "running"),
    },
    {
      name: "after api switched, while web rolls out",
      until: (s: Step[]) =>
        s.some((x) => x.kind === "rollout" && x.service === "api" && x.status === "ok") &&
        s.some((x) => x.kind === "rollout" && x.service === "web" && x.status === "running"),
    },
  ];

  /**
   * Web's candidate of release R is healthy only once `web-ready-R` exists in the project dir (on
   * top of its HTTP probe), so a deploy cannot finish before the kill however loaded the machine.
   */
  function gateWebHealth(p: Project): (release: string) => void {
    const before = readFileSync(p.file, "utf8");
    const held = before.replace(
      'startTimeout: "${WEB_START_TIMEOUT:-60s}" }',
      `startTimeout: "\${WEB_START_TIMEOUT:-60s}", exec: 'test -f ${p.dir}/web-ready-$RELEASE' }`,
    );
    if (held === before) throw new Error("web's health line not found in the e2e spec");
    writeFileSync(p.file, held);
    return (release) => writeFileSync(join(p.dir, `web-ready-${release}`), "");
  }

  /**
   * The points share one project: the second cut starts from the deployed state the first one's
   * recovery left (checked by it), as a fresh project would after its first deploy, for a project,
   * a daemon and a deploy less. Either point alone (-t) makes the project itself.
   */
  let shared: { p: Project; webReady: (release: string) => void; release: number } | undefined;
  afterAll(async () => {
    await shared?.p.cleanup();
  });

  async function deployedProject(): Promise<NonNullable<typeof shared>> {
    if (shared) return shared;
    const p = await makeProject();
    const webReady = gateWebHealth(p);
    webReady("v1");
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    return (shared = { p, webReady, release: 1 });
  }

  for (const point of points) {
    it(`kill -9 of the daemon ${point.name}: consistent status, no orphan or duplicate`, async () => {
      const chain = await deployedProject();
      const { p, webReady } = chain;
      const last = p.cli(["history", "development", "--json"]).json<HistoryJson>().result[0].revision.number;
      const next = `v${++chain.release}`;
      const deploying = p.cliAsync(["deploy", "development", "--version", next], {
        env: { START_DELAY_MS: "1200" },
      });
      await waitFor(
        () => {
          const r = p.cli(["history", "development", String(last + 1), "--json", "--in-process"]);
          if (r.code !== 0) return false;
          return point.until(r.json<{ result: { steps: Step[] }[] }>().result[0].steps);
        },
        { what: point.name, intervalMs: 50, timeoutMs: 30_000 },
      );
      killDaemon(p.home, "SIGKILL");
      const cut = await deploying;
      expect(cut.code).not.toBe(0);
      // Whether recovery rolls the release forward or back, web's new release may now become healthy.
      webReady(next);

      // The next command starts a new daemon, which recovers the interrupted deploy.
      const st = p.cli(["status", "development", "--json"]);
      expect(st.code, st.stderr).toBe(0);
      const s = st.json<StatusJson>().result;
      const h = p.cli(["history", "development", "--json"]).json<HistoryJson>().result;
      expect(
        h.some((x) => x.revision.status === "in-progress"),
        readFileSync(join(p.home, "daemon.log"), "utf8").split("\n").slice(-12).join("\n"),
      ).toBe(false);
      const current = h.find((x) => x.revision.status === "deployed");
      expect(current).toBeDefined();
      const version = current!.revision.version;
      expect(s.services.map((x) => [x.name, x.status, x.instances.length])).toEqual([
        ["api", "running", 1],
        ["web", "running", 1],
        ["worker", "running", 1],
      ]);
      for (const svc of s.services) for (const i of svc.instances) expect(i.version).toBe(version);
      expect((await p.get("web")).body).toBe(version);
      expect((await p.get("api")).body).toBe(version);
      await waitFor(() => appProcesses(p.dir).length === 3, {
        what: "exactly 3 app processes",
        timeoutMs: 15_000,
      });
    });
  }
});
