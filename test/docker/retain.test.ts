/**
 * Retired containers on the Docker target, through the built CLI and the real engine: a replaced
 * release's containers are stopped and kept (renamed `….superseded.<stamp>`) for `retain`
 * revisions, a failed candidate's too (`….failed.<stamp>`, its logs reachable); none of them is
 * ever taken for a live instance; `prune --keep 0` removes them; `rollback ENV 1` through the CLI
 * serves v1 again without a failed request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerDriver } from "../../src/drivers/docker/docker-driver.js";
import { ensureTestImages } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { dockerStack } from "./stack.js";

const stack = dockerStack("retain");
const { project, docker } = stack;
let port: number;

const cli = (args: string[], env: Record<string, string> = {}) => stack.cli(args, { env });
const deploy = (version: string, env: Record<string, string> = {}) =>
  cli(["deploy", "staging", "--version", version, "--yes"], env);

async function get(): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}
const version = async () => (JSON.parse((await get()).body) as { version: string }).version;

/** Every container of the project: "r<revision> <state> <live | superseded | failed>". */
async function ps(): Promise<string[]> {
  return (await stack.containers({ all: true }))
    .map((c) => {
      const kept = /\.(superseded|failed)\.[0-9a-z]+$/.exec(c.Names[0] ?? "")?.[1];
      return `r${c.Labels["slipway.revision"]} ${c.State} ${kept ?? "live"}`;
    })
    .sort();
}

const tags = async () =>
  (await docker.listImages({ filters: { reference: [`slipway/${project}-staging-web`] } }))
    .flatMap((i) => i.RepoTags ?? [])
    .map((t) => t.replace(/.*:/, ""))
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
    retain: 2
    env: { APP_VERSION: "\${VERSION}", HEALTH: "\${HEALTH:-ok}" }
    health: { http: /health, interval: 300ms, startTimeout: 10s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
    stop: { grace: 2s }
`,
  );
}, 300_000);

afterAll(() => stack.teardown());

describe("retired containers on the docker target", () => {
  it("after four deploys with retain 2 the stopped containers of the last 2 earlier revisions are kept", async () => {
    for (const v of ["v1", "v2", "v3", "v4"]) {
      const d = await deploy(v);
      expect(d.code, d.stderr).toBe(0);
    }
    expect(await version()).toBe("v4");
    expect(await ps()).toEqual(["r2 exited superseded", "r3 exited superseded", "r4 running live"]);
    // Image tags follow the same rule: the current release and 2 earlier ones.
    expect(await tags()).toEqual(["r2", "r3", "r4"]);

    // Never taken for live instances: status, and inspect() from the engine alone.
    const st = await cli(["status", "staging", "--json"]);
    expect(st.code, st.stderr).toBe(0);
    const doc = JSON.parse(st.stdout) as { result: { services: { instances: { id: string }[] }[] } };
    const ids = doc.result.services.flatMap((s) => s.instances.map((i) => i.id));
    expect(ids).toEqual([`${project}-staging-web-r4-0`]);
    const driver = new DockerDriver({ home: stack.home });
    expect((await driver.inspect(project, "staging")).map((i) => i.id)).toEqual(ids);
    const retired = await driver.retired(project, "staging");
    expect(retired.map((i) => `r${i.revision} ${String(i.meta?.retired)} ${i.state}`)).toEqual([
      "r3 superseded exited",
      "r2 superseded exited",
    ]);
  }, 60_000);

  it("a candidate that fails its health gate is kept stopped, marked failed, with its logs reachable", async () => {
    const d = await deploy("v5", { HEALTH: "exit" });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/rolled back/);
    const name = /kept stopped: (\S+\.failed\.[0-9a-z]+)/.exec(d.stderr)?.[1];
    expect(name, d.stderr).toMatch(new RegExp(`^${project}-staging-web-r5-0\\.failed\\.`));
    expect(await version()).toBe("v4");
    expect(await ps()).toEqual([
      "r2 exited superseded",
      "r3 exited superseded",
      "r4 running live",
      "r5 exited failed",
    ]);

    const logs = await cli(["logs", "staging", "web", "--revision", "5"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/HEALTH=exit: exiting with code 3/);
    expect(logs.stdout).not.toMatch(/listening on 3000/); // only revision 5's container
    const raw = (await docker.getContainer(name as string).logs({ stdout: true, stderr: true })).toString();
    expect(raw).toMatch(/HEALTH=exit: exiting with code 3/);
    const none = await cli(["logs", "staging", "web", "--revision", "1"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no instance of revision 1 of web in staging, running or kept stopped/);
  }, 40_000);

  it("slipway rollback staging 1 serves v1 again without a failed request", async () => {
    // retain 2 pruned r1's tag, so a rollback to it is refused before anything changes…
    const refused = await cli(["rollback", "staging", "1", "--yes"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/r1 of web .* is no longer on local \(pruned\)/);
    // …until the image is back under its revision tag (r1 was created from this very image).
    await docker
      .getImage("slipway-test/app:latest")
      .tag({ repo: `slipway/${project}-staging-web`, tag: "r1" });

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
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const load = Promise.all([worker(), worker()]);
    const r = await cli(["rollback", "staging", "1", "--yes"]);
    stop = true;
    await load;
    expect(r.code, r.stderr).toBe(0);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    expect(await version()).toBe("v1");
    // Revision 6 was the refused attempt; 7 runs r1's image. The finalize pruned the retired
    // containers to the 2 newest revisions that have some (5 failed, 4 replaced now).
    expect(await ps()).toEqual(["r4 exited superseded", "r5 exited failed", "r7 running live"]);
    const live = await stack.containers();
    expect(live.map((c) => c.Image)).toEqual([`slipway/${project}-staging-web:r1`]);
  }, 40_000);

  it("slipway prune --keep 0 removes every stopped container and keeps the live one", async () => {
    const p = await cli(["prune", "staging", "--keep", "0"]);
    expect(p.code, p.stderr).toBe(0);
    expect(await ps()).toEqual(["r7 running live"]);
    expect(await tags()).toEqual(["r1"]);
    expect(await version()).toBe("v1");
  }, 30_000);
});
