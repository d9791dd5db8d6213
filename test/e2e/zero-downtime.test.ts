/**
 * Zero downtime, end to end: the real CLI, daemon, proxy and app processes, under continuous
 * keep-alive load (test/e2e/load.ts). Every request sent while deploys, rollbacks, drains and a
 * kill -9 of the daemon happen must get a 2xx answer.
 *
 * While load runs, the CLI is only spawned asynchronously (cliAsync): a spawnSync would freeze
 * this process's event loop and with it the load loops.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { sleep } from "../../src/util/sleep.js";
import { freePort } from "../support/ports.js";
import {
  appProcesses,
  daemonPid,
  killDaemon,
  makeProject,
  processesUnder,
  ROOT,
  waitFor,
} from "./harness.js";
import type { Project } from "./harness.js";
import { isFailure, startLoad, type Load, type LoadReport } from "./load.js";

/**
 * The harness app plus what these tests need: `/slow?ms=N`, `/hold?file=F` (answers once F
 * exists), a WebSocket echo prefixed with the version, and one log line at the first
 * non-health request so a test can tell whether an instance ever received traffic. On SIGTERM
 * it exits without closing its WebSockets: a clean 1001 close can only come from the proxy.
 */
const ZD_APP = `
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { WebSocketServer } from ${JSON.stringify(join(ROOT, "node_modules", "ws", "wrapper.mjs"))};
const version = process.env.SLIPWAY_VERSION;
if (process.env.CRASH_AT_START === "1") { console.error("boom"); process.exit(3); }
let first = true;
const srv = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://app");
  if (url.pathname === "/health") {
    if (process.env.FAIL_HEALTH === "1") { res.writeHead(500); return res.end("unhealthy\\n"); }
    return res.end("ok");
  }
  if (first) { first = false; console.log("first request to " + version + ": " + url.pathname); }
  if (url.pathname === "/slow") { setTimeout(() => res.end(version), Number(url.searchParams.get("ms") ?? 1500)); return; }
  if (url.pathname === "/hold") {
    const file = url.searchParams.get("file") ?? "";
    const t = setInterval(() => { if (existsSync(file)) { clearInterval(t); res.end(version); } }, 20);
    return;
  }
  res.end(version);
});
srv.keepAliveTimeout = 30000;
new WebSocketServer({ server: srv }).on("connection", (ws) => ws.on("message", (m) => ws.send(version + ":" + m)));
setTimeout(() => srv.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening " + version + " on " + process.env.PORT)), Number(process.env.START_DELAY_MS ?? 0));
process.on("SIGTERM", () => { srv.close(); setTimeout(() => process.exit(0), 50); });
`;

let project: Project | undefined;
let load: Load | undefined;
afterEach(async () => {
  await load?.stop();
  load = undefined;
  await project?.cleanup();
  project = undefined;
});

async function zdProject(extra = ""): Promise<Project> {
  const p = await makeProject(extra);
  writeFileSync(join(p.dir, "app", "app.js"), ZD_APP);
  return p;
}

interface StatusJson {
  result: {
    services: { name: string; instances: { id: string; version: string; slot: string; pid?: number }[] }[];
  };
}

const apiUrl = (p: Project) => `http://127.0.0.1:${p.ports.api}`;
const byNumber = (a?: number, b?: number) => (a ?? 0) - (b ?? 0);
const appPids = (p: Project) =>
  appProcesses(p.dir)
    .map((x) => x.pid)
    .sort(byNumber);

/** Lets the load run until `n` more requests were answered. */
async function settle(l: Load, n = 100): Promise<void> {
  const target = l.samples.length + n;
  await waitFor(() => l.samples.length >= target, { what: `${n} more requests`, timeoutMs: 30_000 });
}

function expectNoFailure(r: LoadReport, l: Load): void {
  const failed = l.samples.filter(isFailure).slice(0, 5);
  expect(r.failures, `failed requests, e.g. ${JSON.stringify(failed)}`).toBe(0);
  expect(Object.keys(r.statuses)).toEqual(["200"]);
}

/** Every request sent after `t` was answered by `version`. */
function servedAfter(l: Load, t: number): Set<string | undefined> {
  return new Set(l.samples.filter((s) => s.t > t).map((s) => s.version));
}

/** Every log line of every instance (live or stopped) of a service, by instance directory. */
function instanceLogs(home: string, service: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const f = join(dir, name);
      if (statSync(f).isDirectory()) walk(f);
      else out.push(readFileSync(f, "utf8"));
    }
  };
  walk(join(home, "logs", "e2e", "development", service));
  for (const inst of existsSync(join(home, "instances", "e2e", "development"))
    ? readdirSync(join(home, "instances", "e2e", "development"))
    : [])
    if (inst.startsWith(`${service}-`) || inst.includes(`-${service}-`))
      walk(join(home, "instances", "e2e", "development", inst));
  return out;
}

describe("zero downtime under continuous load", () => {
  it("deploy v2 then a warm rollback: no failed request, the answering version switches", async () => {
    const p = (project = await zdProject());
    const env = { KEEP_WARM: "5m" };
    expect(p.cli(["deploy", "development", "--version", "v1"], { env }).code).toBe(0);
    const l = (load = startLoad({ url: apiUrl(p), concurrency: 8, rate: 400 }));
    await settle(l);

    const d = await p.cliAsync(["deploy", "development", "--version", "v2"], { env });
    expect(d.code, d.stderr).toBe(0);
    const deployed = Date.now();
    await settle(l);
    expect(servedAfter(l, deployed)).toEqual(new Set(["v2"]));
    // The old slot is running but unrouted: status says so and does not count it as serving.
    const st = await p.cliAsync(["status", "development"], { env });
    expect(st.stdout).toMatch(/api\s+running\s+1\/1 /);
    expect(st.stdout).toMatch(/api-\S+\s+r1 v1 .* warm \(unrouted\) until /);

    const rb = await p.cliAsync(["rollback", "development"], { env });
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).toContain("switching back to 1 warm instance(s) of v1");
    const rolledBack = Date.now();
    await settle(l);
    expect(servedAfter(l, rolledBack)).toEqual(new Set(["v1"]));

    const r = await l.stop();
    expectNoFailure(r, l);
    expect(r.versions.v1).toBeGreaterThan(100);
    expect(r.versions.v2).toBeGreaterThan(100);
  });

  it("long requests in flight finish during the drain (keepWarm 0); a cold rollback loses nothing", async () => {
    const p = (project = await zdProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const l = (load = startLoad({ url: apiUrl(p), concurrency: 8, rate: 300 }));
    await settle(l);

    // Four requests v1 holds until the test releases them, i.e. still running after the switch.
    const release = join(p.dir, "release-held");
    const held = startLoad({
      url: apiUrl(p),
      concurrency: 4,
      path: `/hold?file=${encodeURIComponent(release)}`,
      timeoutMs: 60_000,
    });
    await sleep(300);
    const deploying = p.cliAsync(["deploy", "development", "--version", "v2"]);
    const switched = await l.waitFor((s) => s.version === "v2");
    // The deploy cannot finish while v1 still has requests in flight: it is draining them.
    await sleep(700);
    let deployDone = false;
    void deploying.then(() => (deployDone = true));
    await sleep(0);
    expect(deployDone).toBe(false);
    const heldDone = held.stop(); // each held loop ends with its current request
    writeFileSync(release, "");
    const d = await deploying;
    expect(d.code, d.stderr).toBe(0);
    const heldReport = await heldDone;
    // Exactly the 4 held requests, answered by v1 after the switch.
    expect(heldReport.requests).toBe(4);
    expect(heldReport.versions).toEqual({ v1: 4 });
    for (const s of held.samples) expect(s.t + s.ms).toBeGreaterThan(switched.t);

    const rb = await p.cliAsync(["rollback", "development"]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stderr).not.toContain("warm instance");
    const rolledBack = Date.now();
    await settle(l);
    expect(servedAfter(l, rolledBack)).toEqual(new Set(["v1"]));
    const r = await l.stop();
    expectNoFailure(r, l);
    expect(r.versions.v2).toBeGreaterThan(50);
    await waitFor(() => appProcesses(p.dir).length === 3, { what: "old slots retired", timeoutMs: 15_000 });
  });

  it("a candidate that never gets healthy never receives a request", async () => {
    const p = (project = await zdProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const l = (load = startLoad({ url: apiUrl(p), concurrency: 8, rate: 300 }));
    await settle(l);
    const bad = await p.cliAsync(["deploy", "development", "--version", "v2"], {
      env: { FAIL_HEALTH: "1", START_TIMEOUT: "2s" },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/api: instance .* did not become healthy/);
    await settle(l);
    const r = await l.stop();
    expectNoFailure(r, l);
    expect(r.versions).toEqual({ v1: r.requests });

    const logs = instanceLogs(p.home, "api").join("\n");
    expect(logs).toContain("listening v2"); // the candidate did run ...
    expect(logs).toContain("first request to v1: /"); // (the log line works) ...
    expect(logs).not.toContain("first request to v2"); // ... and never saw a request
  });
});

describe("WebSockets", () => {
  it("survive a redeploy of another service and are closed with 1001 on the drain of their own", async () => {
    const chatPort = await freePort();
    const p = (project = await zdProject(`  chat:
    run: node app.js
    path: ./app
    port: ${chatPort}
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 200ms, timeout: 1s }
    stop: { grace: 3s }
    rollout: { drainTimeout: 5s, keepWarm: 0s }
`));
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const ws = new WebSocket(`ws://127.0.0.1:${chatPort}/`);
    const messages: string[] = [];
    ws.on("message", (m: Buffer) => messages.push(m.toString()));
    const closed = new Promise<{ code: number; at: number }>((r) =>
      ws.on("close", (code) => r({ code, at: Date.now() })),
    );
    await new Promise((r, j) => ws.once("open", r).once("error", j));
    const echo = async (text: string) => {
      const n = messages.length;
      ws.send(text);
      await waitFor(() => messages.length > n, { what: `echo of ${text}`, timeoutMs: 5_000 });
      return messages.at(-1);
    };
    expect(await echo("a")).toBe("v1:a");

    const other = await p.cliAsync(["deploy", "development", "--version", "v2", "--only", "api"]);
    expect(other.code, other.stderr).toBe(0);
    expect((await p.get("api")).body).toBe("v2");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await echo("b")).toBe("v1:b");

    const started = Date.now();
    const own = await p.cliAsync(["deploy", "development", "--version", "v2", "--only", "chat"]);
    expect(own.code, own.stderr).toBe(0);
    const c = await closed;
    expect(c.code).toBe(1001);
    expect(c.at).toBeGreaterThan(started);

    const ws2 = new WebSocket(`ws://127.0.0.1:${chatPort}/`);
    const reply = new Promise<string>((r) => ws2.once("message", (m: Buffer) => r(m.toString())));
    await new Promise((r, j) => ws2.once("open", r).once("error", j));
    ws2.send("c");
    expect(await reply).toBe("v2:c");
    ws2.close();
  });
});

describe("kill -9 of the daemon under load", () => {
  it("drops no request; the next command's daemon adopts the proxy and the instances", async () => {
    const p = (project = await zdProject());
    expect(p.cli(["deploy", "development", "--version", "v1"]).code).toBe(0);
    const before = p.cli(["status", "development", "--json"]).json<StatusJson>().result;
    // Instance pids (the supervising shims, from the store) and the app processes themselves.
    const pids = before.services.flatMap((s) => s.instances.map((i) => i.pid)).sort(byNumber);
    expect(pids.every((x) => typeof x === "number")).toBe(true);
    const apps = appPids(p);
    expect(apps).toHaveLength(3);
    const proxyPidFile = join(p.home, "proxy", "proxy.pid");
    const proxyPid = Number(readFileSync(proxyPidFile, "utf8").trim());
    const oldDaemon = daemonPid(p.home);
    expect(oldDaemon).toBeDefined();

    const l = (load = startLoad({ url: apiUrl(p), concurrency: 8, rate: 300 }));
    const web = startLoad({ url: `http://127.0.0.1:${p.ports.web}`, concurrency: 2, rate: 100 });
    await settle(l);
    killDaemon(p.home, "SIGKILL");
    await waitFor(() => !processesUnder(p.dir).some((x) => x.pid === oldDaemon), { what: "daemon gone" });
    const killed = Date.now();
    await settle(l, 300);

    const st = await p.cliAsync(["status", "development", "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const newDaemon = daemonPid(p.home);
    expect(newDaemon).toBeDefined();
    expect(newDaemon).not.toBe(oldDaemon);
    const after = st.json<StatusJson>().result;
    expect(after.services.flatMap((s) => s.instances.map((i) => i.pid)).sort(byNumber)).toEqual(pids);
    // Same proxy process, still the only one; the same app processes, none doubled.
    expect(Number(readFileSync(proxyPidFile, "utf8").trim())).toBe(proxyPid);
    expect(
      processesUnder(p.home)
        .filter((x) => /proxy[/\\]main\.(js|ts)/.test(x.cmd))
        .map((x) => x.pid),
    ).toEqual([proxyPid]);
    expect(appPids(p)).toEqual(apps);
    await sleep(2500); // a housekeeping tick of the new daemon: it must not start or stop anything
    expect(appPids(p)).toEqual(apps);
    expect(servedAfter(l, killed)).toEqual(new Set(["v1"]));

    // The adopted set-up keeps working: a deploy through the new daemon, still under load.
    const d = await p.cliAsync(["deploy", "development", "--version", "v2"]);
    expect(d.code, d.stderr).toBe(0);
    await settle(l);
    const r = await l.stop();
    const w = await web.stop();
    expectNoFailure(r, l);
    expectNoFailure(w, web);
    expect(r.versions.v2).toBeGreaterThan(0);
    expect(Number(readFileSync(proxyPidFile, "utf8").trim())).toBe(proxyPid);
  });
});
