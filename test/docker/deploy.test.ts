/**
 * `slipway deploy` on the Docker target end to end: the real CLI (from source, --in-process),
 * the real proxy and the real engine. A stateful Redis (slipway-test/redis, a named volume) and a
 * two-replica web service depending on it; a redeploy under load with zero failed requests; a
 * release whose health fails is rolled back while the old containers keep serving.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { BIN, dockerStack } from "./stack.js";

const stack = dockerStack("deploy", { fromSource: true });
const { project, home, file, docker } = stack;
let port: number;

const cli = (args: string[], env: Record<string, string> = {}) => stack.cli(args, { env });

async function get(path = "/"): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

// A replaced or failed release's containers are kept stopped (retain.test.ts): "(superseded)", "(failed)".
const containers = async () =>
  (await stack.containers({ all: true }))
    .map((c) => {
      const kept = /\.(superseded|failed)\.[0-9a-z]+$/.exec(c.Names[0] ?? "")?.[1];
      return `${c.Labels["slipway.service"]} r${c.Labels["slipway.revision"]} ${c.State}${kept ? ` (${kept})` : ""}`;
    })
    .sort();

beforeAll(async () => {
  await ensureTestImages();
  port = await freePort();
  stack.writeSpec(
    `services:
  web:
    image: slipway-test/app:latest
    port: ${port}
    containerPort: 3000
    replicas: 2
    env: { APP_VERSION: "\${VERSION}", HEALTH: "\${HEALTH:-ok}" }
    health: { http: /health, interval: 500ms, startTimeout: 10s }
    rollout: { drainTimeout: 2s, keepWarm: 0s }
    resources: { memory: 128Mi }
    dependsOn: [redis]
  redis:
    image: slipway-test/redis:latest
    stateful: true
    volumes: [data:/data]
    # Runs inside the container: the host has no /data (and no Redis on 6379), so a host-side exec fails.
    health: { exec: "test -d /data && redis-cli ping | grep -q PONG", interval: 500ms, startTimeout: 20s }
`,
  );
}, 300_000);

afterAll(() => stack.teardown());

describe("slipway deploy on the docker target", () => {
  it("deploys a stateful Redis and a web service that reaches it by name", async () => {
    const d = await cli(["deploy", "staging", "--version", "v1", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse((await get()).body)).toMatchObject({ version: "v1", service: "web" });
    expect((await get("/redis?cmd=SET%20k%20kept")).body).toBe("+OK");
    expect(await containers()).toEqual(["redis r1 running", "web r1 running", "web r1 running"]);
  });

  it("redeploys under load without a failed request; the stateful volume keeps its data", async () => {
    let ok = 0;
    const failures: string[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await get();
          if (r.status === 200) ok++;
          else failures.push(`HTTP ${r.status}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    // Redis is unchanged (it would be kept running): recreate it to show its volume keeps the data.
    const d = await cli(["deploy", "staging", "--version", "v2", "--yes", "--force-recreate", "redis"]);
    stop = true;
    await load;
    expect(d.code, d.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(JSON.parse((await get()).body)).toMatchObject({ version: "v2" });
    expect((await get("/redis?cmd=GET%20k")).body).toBe("kept");
    expect(await containers()).toEqual([
      "redis r1 exited (superseded)",
      "redis r2 running",
      "web r1 exited (superseded)",
      "web r1 exited (superseded)",
      "web r2 running",
      "web r2 running",
    ]);
  });

  it("rolls back a release whose health fails; the old containers keep serving", async () => {
    const d = await cli(["deploy", "staging", "--version", "v3", "--yes"], { HEALTH: "fail" });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/did not become healthy/);
    expect(d.stderr).toMatch(/rolled back/);
    expect(JSON.parse((await get()).body)).toMatchObject({ version: "v2" });
    // Redis was unchanged: not touched by the failed release.
    expect((await containers()).filter((c) => c.startsWith("redis"))).toEqual([
      "redis r1 exited (superseded)",
      "redis r2 running",
    ]);
    expect((await containers()).filter((c) => c.startsWith("web") && !c.includes("superseded"))).toEqual([
      "web r2 running",
      "web r2 running",
      "web r3 exited (failed)",
      "web r3 exited (failed)",
    ]);
  });

  it("a daemon killed with -9 is replaced by one that adopts the running containers", async () => {
    // The real daemon this time (built CLI, no --in-process), so there is a daemon to kill.
    const viaDaemon = (args: string[]) =>
      spawnSync(process.execPath, [BIN, "-f", file, ...args], {
        env: { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1" },
        encoding: "utf8",
      });
    type St = { result: { services: { name: string; status: string; instances: { id: string }[] }[] } };
    const ids = (r: ReturnType<typeof viaDaemon>) =>
      (JSON.parse(r.stdout) as St).result.services
        .flatMap((x) => x.instances.map((i) => `${x.name} ${i.id} ${x.status}`))
        .sort();
    const before = viaDaemon(["status", "staging", "--json"]);
    expect(before.status, before.stderr).toBe(0);
    const first = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number };
    const running = await containers();
    process.kill(first.pid, "SIGKILL");
    const after = viaDaemon(["status", "staging", "--json"]);
    expect(after.status, after.stderr).toBe(0);
    const second = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number };
    expect(second.pid).not.toBe(first.pid);
    expect(ids(after)).toEqual(ids(before));
    expect(ids(after).every((l) => l.endsWith("running"))).toBe(true);
    expect(await containers()).toEqual(running); // nothing started, nothing removed
    expect(JSON.parse((await get()).body)).toMatchObject({ version: "v2" });
    process.kill(second.pid, "SIGTERM");
  });

  it("a deploy that changes only web keeps the unchanged Redis container; --force-recreate redis replaces it", async () => {
    const redisId = async () =>
      (await stack.containers({ all: false })).find((c) => c.Labels["slipway.service"] === "redis")?.Id;
    const before = await redisId();
    const plan = await cli(["plan", "staging", "--version", "v4", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (
      JSON.parse(plan.stdout) as { result: { steps: { kind: string; service?: string; change?: string }[] } }
    ).result.steps;
    expect(steps.find((s) => s.service === "redis" && s.kind === "carry")).toMatchObject({
      change: "unchanged",
    });
    // web's image tag is the same, but its env uses \${VERSION}: a new web.
    expect(steps.find((s) => s.service === "web" && s.kind === "rollout")).toBeDefined();
    const d = await cli(["deploy", "staging", "--version", "v4", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse((await get()).body)).toMatchObject({ version: "v4" });
    expect(await redisId()).toBe(before);
    expect((await get("/redis?cmd=GET%20k")).body).toBe("kept");
    const h = await cli(["history", "staging", "--json"]);
    const last = (
      JSON.parse(h.stdout) as { result: { revision: { facts: { carried?: Record<string, number> } } }[] }
    ).result[0];
    expect(last.revision.facts.carried).toEqual({ redis: 2 });
    const f = await cli(["deploy", "staging", "--version", "v4", "--yes", "--force-recreate", "redis"]);
    expect(f.code, f.stderr).toBe(0);
    expect(await redisId()).not.toBe(before);
    expect((await get("/redis?cmd=GET%20k")).body).toBe("kept");
  }, 180_000);

  it("destroy removes the containers and keeps the named volume", async () => {
    const d = await cli(["destroy", "staging", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    expect(await containers()).toEqual([]);
    const vols = await docker.listVolumes({ filters: { label: [`slipway.project=${project}`] } });
    expect(vols.Volumes?.map((v) => v.Name)).toEqual([`${project}-staging-data`]);
  });
});
