/**
 * DockerDriver specifics (the Driver contract itself: driver-conformance.test.ts) against the
 * real Docker Engine (dockerd started by ensureDocker when needed) and the offline test images of scripts/build-test-images.sh. There is no GPU on this machine:
 * the GPU case checks the clear error and the DeviceRequests of a created (never started) container.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOptions } from "../../src/drivers/docker/container-spec.js";
import { DockerDriver } from "../../src/drivers/docker/docker-driver.js";
import type { Artifact, Instance, LogLine } from "../../src/drivers/driver.js";
import { DriverError } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import { ensureTestImages, removeProject } from "../support/docker.js";
import { waitFor } from "../support/ports.js";
import { request, service, uniqueProject } from "./helpers.js";

const exec = promisify(execFile);
const project = uniqueProject("dk");
const home = mkdtempSync(join(tmpdir(), "slipway-docker-home-"));
const logged: string[] = [];
const logger: Logger = {
  debug: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  info: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  warn: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
  error: (m, f) => logged.push(`${m} ${JSON.stringify(f ?? {})}`),
};
let driver: DockerDriver;
const docker = new Docker({ socketPath: "/var/run/docker.sock" });
const SECRET = "s3cr3t-value-never-logged";

const app = service("web", {
  image: "slipway-test/app:latest",
  port: 8080,
  containerPort: 3000,
  resources: { memory: 64 * 1024 * 1024, cpus: 0.5 },
  health: {
    http: "/health",
    interval: 1000,
    timeout: 1000,
    startPeriod: 0,
    startTimeout: 30_000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
  },
});
let artifact: Artifact;
let web: Instance;

async function get(inst: Instance, path = "/"): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://${inst.host}:${inst.port}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: r.status, body: await r.text() };
}

beforeAll(async () => {
  await ensureTestImages();
  driver = new DockerDriver({ home, logger });
}, 300_000);

afterAll(async () => {
  await driver?.close();
  await removeProject(project);
  rmSync(home, { recursive: true, force: true });
});

describe("DockerDriver", () => {
  it("prepare tags the image per revision and refuses a missing image clearly", async () => {
    artifact = await driver.prepare(project, "test", app, 1);
    expect(artifact.ref).toBe(`slipway/${project}-test-web:r1`);
    const a = await docker.getImage(artifact.ref).inspect();
    const b = await docker.getImage("slipway-test/app:latest").inspect();
    expect(a.Id).toBe(b.Id);
    const missing = service("ghost", { image: "slipway-test/does-not-exist:9" });
    const err = await driver.prepare(project, "test", missing, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as Error).message).toContain(
      "image slipway-test/does-not-exist:9 not found on host local and no registry access",
    );
  });

  it("starts a labelled container with limits on a loopback ephemeral port", async () => {
    web = await driver.start(request(project, app, artifact, { env_vars: { API_TOKEN: SECRET } }));
    expect(web.id).toBe(`${project}-test-web-r1-0`);
    expect(web.host).toBe("127.0.0.1");
    expect(web.port).toBeGreaterThan(0);
    const body = await waitFor(async () => (await get(web)).body, { what: "test app to answer" });
    expect(JSON.parse(body)).toMatchObject({ version: "1.0.0", service: "web" });
    const info = await docker.getContainer(web.id).inspect();
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.PortBindings?.["3000/tcp"]?.[0]?.HostIp).toBe("127.0.0.1");
    expect(info.Config.Labels).toMatchObject({
      "slipway.project": project,
      "slipway.env": "test",
      "slipway.service": "web",
      "slipway.revision": "1",
      "slipway.version": "1.0.0",
      "slipway.slot": "stable",
      "slipway.index": "0",
    });
    expect(info.Config.Env).toContain("PORT=3000");
    // Secrets: Slipway's own log never carries env values.
    expect(logged.join("\n")).not.toContain(SECRET);
  });

  it("services reach each other by name on the project network; runOnce captures output", async () => {
    const r = await driver.runOnce(
      request(project, service("probe", { image: "slipway-test/app:latest" }), artifact),
      "wget -qO- http://web:3000/ && echo && echo to-stderr >&2 && exit 7",
      { timeoutMs: 30_000 },
    );
    expect(r.exitCode).toBe(7);
    expect(r.output).toContain('"version":"1.0.0"');
    expect(r.output).toContain("to-stderr");
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`slipway.project=${project}`] },
    });
    expect(left.map((c) => c.Names[0])).toEqual([`/${web.id}`]);
  });

  it("logs (tail, follow) and stats", async () => {
    const lines: LogLine[] = [];
    for await (const l of driver.logs([web], { tail: 10 })) lines.push(l);
    expect(lines.find((l) => l.stream === "stdout" && l.line.includes("listening on 3000"))).toBeTruthy();
    expect(lines.find((l) => l.stream === "stderr" && l.line.includes("health mode ok"))).toBeTruthy();
    expect(lines[0]?.time).toMatch(/^\d{4}-/);

    const ac = new AbortController();
    const followed: string[] = [];
    const reader = (async () => {
      for await (const l of driver.logs([web], { follow: true, tail: 0, signal: ac.signal })) {
        followed.push(l.line);
        if (l.line.includes("received SIGTERM")) break;
      }
    })();
    const stats = await driver.stats(web);
    expect(stats?.memory).toBeGreaterThan(1024 * 1024);
    expect(stats?.memoryLimit).toBe(64 * 1024 * 1024);
    expect(stats?.cpu).toBeGreaterThanOrEqual(0);
    // stop() sends the signal: the followed log sees the app's shutdown line, then the container is gone.
    await driver.stop(web, { signal: "SIGTERM", graceMs: 5000 });
    await reader;
    ac.abort();
    expect(followed.some((l) => l.includes("received SIGTERM"))).toBe(true);
    expect(await driver.inspect(project, "test")).toEqual([]);
    expect(await driver.stats(web)).toBeUndefined();
  });

  it("builds on the engine, keeps named volumes on stop, prunes revisions not kept", async () => {
    const ctx = mkdtempSync(join(tmpdir(), "slipway-build-"));
    writeFileSync(
      join(ctx, "Dockerfile"),
      "FROM slipway-test/app:latest\nARG VERSION\nENV APP_VERSION=$VERSION\n",
    );
    writeFileSync(join(ctx, ".dockerignore"), "secret.txt\n");
    writeFileSync(join(ctx, "secret.txt"), "not sent");
    const db = service("db", {
      build: { context: ctx, args: { VERSION: "2.0.0" } },
      containerPort: 3000,
      stateful: true,
      volumes: ["data:/data"],
      rollout: { strategy: "recreate", steps: [], sticky: false, drainTimeout: 1000, keepWarm: 0 },
    });
    try {
      const a2 = await driver.prepare(project, "test", db, 2);
      const a3 = await driver.prepare(project, "test", db, 3);
      const inst = await driver.start(request(project, db, a2, { version: "2.0.0" }));
      // Stateful without a public port: not published.
      expect(inst.port).toBeUndefined();
      const w = await driver.runOnce(
        request(project, db, a2),
        "echo kept > /data/f && wget -qO- http://db:3000/",
        {
          timeoutMs: 30_000,
        },
      );
      expect(w.output).toContain('"version":"2.0.0"');
      await driver.stop(inst, { signal: "SIGTERM", graceMs: 5000 });
      const r = await driver.runOnce(request(project, db, a3), "cat /data/f", { timeoutMs: 30_000 });
      expect(r.output.trim()).toBe("kept");
      await driver.prune(project, "test", "db", [3]);
      await expect(docker.getImage(a2.ref).inspect()).rejects.toMatchObject({ statusCode: 404 });
      await docker.getImage(a3.ref).inspect();
      // A failing build names the service and shows the engine's message.
      writeFileSync(join(ctx, "Dockerfile"), "FROM slipway-test/app:latest\nRUN exit 9\n");
      const err = await driver.prepare(project, "test", db, 4).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/build of db failed on local: .*returned a non-zero code: 9/);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it("services of one deploy with the same build are built once; each runs from its own tag", async () => {
    const ctx = mkdtempSync(join(tmpdir(), "slipway-build-"));
    writeFileSync(
      join(ctx, "Dockerfile"),
      "FROM slipway-test/app:latest\nARG VERSION\nENV APP_VERSION=$VERSION\n",
    );
    const same = { context: ctx, args: { VERSION: "3.0.0" } };
    const [api, chat] = ["api", "chat"].map((n) =>
      service(n, { build: same, port: 8080, containerPort: 3000 }),
    );
    // Another build arg: another build.
    const admin = service("admin", {
      build: { context: ctx, args: { VERSION: "3.1.0" } },
      port: 8080,
      containerPort: 3000,
    });
    const builds = () => logged.filter((l) => /^building (api|chat|admin) on local/.test(l)).length;
    const id = async (a: Artifact) => (await docker.getImage(a.ref).inspect()).Id;
    const started: Instance[] = [];
    try {
      // The engine's prepare steps run side by side, as here.
      const [a, c, o] = await Promise.all(
        [api, chat, admin].map((s) => driver.prepare(project, "test", s, 5)),
      );
      expect(builds()).toBe(2);
      expect(logged.join("\n")).toMatch(/(api|chat) on local: the same build as (api|chat), its image/);
      expect([a.ref, c.ref]).toEqual([`slipway/${project}-test-api:r5`, `slipway/${project}-test-chat:r5`]);
      // One image under both tags (an image built apart would carry its own service label).
      expect(await id(c)).toBe(await id(a));
      expect(await id(o)).not.toBe(await id(a));
      for (const [svc, art] of [
        [api, a],
        [chat, c],
      ] as const) {
        const inst = await driver.start(request(project, svc, art, { version: "3.0.0" }));
        started.push(inst);
        const body = await waitFor(async () => (await get(inst)).body, { what: `${svc.name} to answer` });
        expect(JSON.parse(body)).toMatchObject({ version: "3.0.0", service: svc.name });
      }
      // The next revision is another deploy: built again (once).
      await Promise.all([api, chat].map((s) => driver.prepare(project, "test", s, 6)));
      expect(builds()).toBe(3);
      // A failing build fails each service that shares it, the sharer's error naming the builder.
      writeFileSync(join(ctx, "Dockerfile"), "FROM slipway-test/app:latest\nRUN exit 9\n");
      const errs = await Promise.all(
        [api, chat].map((s) =>
          driver.prepare(project, "test", s, 7).then(
            () => undefined,
            (e: Error) => e.message,
          ),
        ),
      );
      expect(builds()).toBe(4);
      expect(errs).toHaveLength(2);
      expect(errs).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /^docker: build of (api|chat) failed on local: .*returned a non-zero code: 9/,
          ),
          expect.stringMatching(
            /^docker: build of (api|chat) on local is the same build as (api|chat)'s, which failed: build of \2 failed on local: .*code: 9/,
          ),
        ]),
      );
      // …and is forgotten: the next attempt of that revision builds again.
      writeFileSync(join(ctx, "Dockerfile"), "FROM slipway-test/app:latest\n");
      await driver.prepare(project, "test", chat, 7);
      expect(builds()).toBe(5);
    } finally {
      for (const inst of started) await driver.stop(inst, { signal: "SIGTERM", graceMs: 1000 });
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it("GPU requests: clear error on a host without the NVIDIA runtime; DeviceRequests in HostConfig", async () => {
    // No GPU and no NVIDIA runtime on this machine: start() must refuse with a clear message.
    const gpu = service("llm", {
      image: "slipway-test/app:latest",
      resources: { memory: 32 * 1024 * 1024, gpus: { devices: [0, 1] } },
    });
    // prepare() refuses first (the deploy fails before anything changes), and start() as well.
    const early = await driver.prepare(project, "test", gpu, 1).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(DriverError);
    expect((early as Error).message).toMatch(/llm requests GPUs but host local has no NVIDIA runtime/);
    const a = await driver.prepare(project, "test", { ...gpu, resources: { memory: 32 * 1024 * 1024 } }, 1);
    const err = await driver.start(request(project, gpu, a)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as Error).message).toMatch(/llm requests GPUs but host local has no NVIDIA runtime/);
    expect(await driver.gpuSupport()).toEqual([expect.objectContaining({ host: "local", nvidia: false })]);
    // Create without start (start would fail here): the engine stores exactly what we asked for.
    const opts = createOptions(request(project, gpu, a), { network: "bridge", publishAddress: "127.0.0.1" });
    const c = await docker.createContainer({
      ...opts,
      NetworkingConfig: undefined,
      HostConfig: { ...opts.HostConfig, NetworkMode: "bridge" },
    });
    try {
      const info = await c.inspect();
      expect(info.HostConfig.Memory).toBe(32 * 1024 * 1024);
      expect(info.HostConfig.DeviceRequests).toEqual([
        { Driver: "nvidia", Count: 0, DeviceIDs: ["0", "1"], Capabilities: [["gpu"]], Options: null },
      ]);
      const byCount = createOptions(
        request(project, service("llm", { image: "x", resources: { gpus: { count: 2 } } }), a),
        { network: "bridge", publishAddress: "127.0.0.1" },
      );
      expect(byCount.HostConfig?.DeviceRequests).toEqual([
        { Driver: "nvidia", Count: 2, Capabilities: [["gpu"]] },
      ]);
    } finally {
      await c.remove({ force: true });
    }
  });

  it("prune with nothing kept (destroy) removes the revision tags and the environment's network", async () => {
    for (const s of ["web", "db", "llm", "api", "chat", "admin"]) await driver.prune(project, "test", s, []);
    await expect(docker.getImage(artifact.ref).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const nets = await docker.listNetworks({ filters: { label: [`slipway.project=${project}`] } });
    expect(nets).toEqual([]);
    // Named volumes are data: kept.
    const vols = await docker.listVolumes({ filters: { label: [`slipway.project=${project}`] } });
    expect(vols.Volumes?.map((v) => v.Name)).toEqual([`${project}-test-data`]);
  });

  it("cannot-reach errors name the socket and say what to do", async () => {
    const d = new DockerDriver({ home, socketPath: join(home, "no.sock") });
    const err = await d.inspect(project, "test").catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cannot reach the Docker Engine.*is dockerd running/);
  });
});

afterAll(async () => {
  // Nothing of this suite may survive it.
  const { stdout } = await exec("docker", ["ps", "-aq", "--filter", `label=slipway.project=${project}`]);
  expect(stdout.trim()).toBe("");
});
