/**
 * The driver conformance suite: every Driver implementation runs it (test/process/, test/docker/,
 * and the Kubernetes driver next). It walks one instance through its life as the engine does:
 * prepare, start a candidate, inspect, route traffic to it, logs, stats, exec, adopt after a
 * daemon restart, retire. A small fixture per implementation supplies the driver and an app, and
 * says where its target differs by nature (`limits`): the suite then checks the target's form of
 * the same promise instead of skipping it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedService } from "../spec/resolved.js";
import { sleep } from "../util/sleep.js";
import type { Artifact, Driver, Instance, InstanceRequest } from "./driver.js";

export interface DriverFixture {
  driver: Driver;
  /** A new driver over the same state, as a restarted daemon creates it. */
  reopen(): Driver;
  project: string;
  env: string;
  /**
   * An HTTP service: answers GET / with 200 on its port, prints `startLine` to stdout once it
   * listens, and exits on SIGTERM.
   */
  service: ResolvedService;
  startLine: RegExp;
  /** Where traffic for an instance goes (default http://host:port, the address the proxy routes to). */
  url?(instance: Instance): string;
  /**
   * The HTTP status of GET / at the instance (default: fetch(url)); throws when nothing answers.
   * Kubernetes: through the API server's pod proxy, which works from outside the cluster.
   */
  reach?(instance: Instance): Promise<number>;
  limits?: {
    /**
     * An instance is (revision, index) of a workload (Kubernetes: the index-th pod of the
     * revision's Deployment): the slot says where traffic points, it is not part of the identity,
     * and a second instance beside the candidate comes from a second revision.
     */
    slotIsRouting?: boolean;
    /** Artifacts are image references in a registry: prepare() cannot tell a revision never prepared. */
    artifactsInRegistry?: boolean;
    /** An instance's logs go with it (a deleted pod's log is gone). */
    logsEndWithInstance?: boolean;
  };
  /** Remove everything the suite left (instances, artifacts, state). */
  dispose(): Promise<void>;
}

const keyOf = (i: Instance, slotIsRouting = false) => ({
  id: i.id,
  service: i.service,
  revision: i.revision,
  version: i.version,
  slot: slotIsRouting ? undefined : i.slot,
  index: i.index,
  host: i.host,
  port: i.port,
  pid: i.pid,
  appPid: i.appPid,
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(100);
  }
}

async function collect(driver: Driver, instances: Instance[], tail: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of driver.logs(instances, { tail })) lines.push(l.line);
  return lines;
}

/** What the tests of one run share: the fixture and the instance they walk through its life. */
class Suite {
  fx!: DriverFixture;
  artifact!: Artifact;
  candidate!: Instance;

  request(over: Partial<InstanceRequest> = {}): InstanceRequest {
    return {
      project: this.fx.project,
      env: this.fx.env,
      service: this.fx.service,
      revision: 1,
      version: "v-conformance",
      slot: "candidate",
      index: 0,
      env_vars: { CONFORMANCE: "yes" },
      artifact: this.artifact,
      ...over,
    };
  }

  url(i: Instance): string {
    return this.fx.url?.(i) ?? `http://${i.host}:${i.port}/`;
  }

  async reach(i: Instance): Promise<number> {
    if (this.fx.reach) return this.fx.reach(i);
    const r = await fetch(this.url(i), { signal: AbortSignal.timeout(3000) });
    await r.text();
    return r.status;
  }

  key = (i: Instance) => keyOf(i, this.fx.limits?.slotIsRouting);
}

export function runDriverConformance(name: string, factory: () => Promise<DriverFixture>): void {
  describe(`Driver conformance: ${name}`, () => {
    const c = new Suite();
    beforeAll(async () => {
      c.fx = await factory();
    }, 300_000);
    afterAll(async () => {
      await c.fx?.dispose();
    }, 120_000);
    startAndRoute(c);
    observe(c);
    restartAndRetire(c);
  });
}

/** Artifacts, a candidate started and listed, traffic reaching it. */
function startAndRoute(c: Suite): void {
  it("prepares the revision's artifact, and again without a new copy (existingOnly)", async () => {
    c.artifact = await c.fx.driver.prepare(c.fx.project, c.fx.env, c.fx.service, 1);
    expect(c.artifact).toMatchObject({ service: c.fx.service.name, revision: 1 });
    expect(c.artifact.ref).toBeTruthy();
    const again = await c.fx.driver.prepare(c.fx.project, c.fx.env, c.fx.service, 1, { existingOnly: true });
    expect(again).toEqual(c.artifact);
    if (!c.fx.limits?.artifactsInRegistry)
      await expect(
        c.fx.driver.prepare(c.fx.project, c.fx.env, c.fx.service, 99, { existingOnly: true }),
      ).rejects.toThrow(/r99/);
  });

  it("starts a candidate that inspect() lists with its identity and an address", async () => {
    c.candidate = await c.fx.driver.start(c.request());
    expect(c.candidate).toMatchObject({
      project: c.fx.project,
      env: c.fx.env,
      service: c.fx.service.name,
      revision: 1,
      version: "v-conformance",
      slot: "candidate",
      index: 0,
    });
    expect(["starting", "running"]).toContain(c.candidate.state);
    expect(c.candidate.host).toBeTruthy();
    expect(c.candidate.port).toBeGreaterThan(0);
    const listed = await c.fx.driver.inspect(c.fx.project, c.fx.env);
    expect(listed.map(c.key)).toEqual([c.key(c.candidate)]);
    expect(await c.fx.driver.inspect(c.fx.project, `${c.fx.env}-other`)).toEqual([]);
  });

  it("routes: the instance answers at the address the proxy routes to", async () => {
    const status = await until("the candidate to answer", async () => {
      const s = await c.reach(c.candidate);
      return s === 200 ? s : undefined;
    });
    expect(status).toBe(200);
    const live = await until("the candidate to be running", async () => {
      const [i] = await c.fx.driver.inspect(c.fx.project, c.fx.env);
      return i?.state === "running" ? i : undefined;
    });
    expect(live.state).toBe("running");
  });
}

/** What the engine reads of a running instance: logs, stats, commands. */
function observe(c: Suite): void {
  it("logs: the instance's output, with its id and stream", async () => {
    const lines = await until("the start line in the logs", async () => {
      const got: { instance: string; stream: string; line: string }[] = [];
      for await (const l of c.fx.driver.logs([c.candidate], { tail: 50 })) got.push(l);
      return got.some((l) => c.fx.startLine.test(l.line)) ? got : undefined;
    });
    const start = lines.find((l) => c.fx.startLine.test(l.line));
    expect(start).toMatchObject({ instance: c.candidate.id, stream: "stdout" });
  });

  it("stats: memory and CPU of a running instance", async () => {
    if (!c.fx.driver.capabilities.stats) return;
    const s = await c.fx.driver.stats(c.candidate);
    expect(s?.memory).toBeGreaterThan(0);
    expect(s?.cpu).toBeGreaterThanOrEqual(0);
  });

  it("exec: a command in the instance (or, without exec, a one-off in its release) with its exit code", async () => {
    if (c.fx.driver.exec) {
      const r = await c.fx.driver.exec(c.candidate, "echo in-$CONFORMANCE; exit 3", { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 3 });
      expect(r.output).toContain("in-yes");
    }
    const once = await c.fx.driver.runOnce(
      c.request({ slot: "stable" }),
      "echo once-$CONFORMANCE >&2; exit 4",
      { timeoutMs: 30_000 },
    );
    expect(once.exitCode).toBe(4);
    expect(once.output).toContain("once-yes");
    // A one-off is not an instance.
    expect((await c.fx.driver.inspect(c.fx.project, c.fx.env)).map((i) => i.id)).toEqual([c.candidate.id]);
  });
}

/** A daemon restart, the end of an instance, and of its artifacts. */
function restartAndRetire(c: Suite): void {
  it("adopts after a restart: a new driver over the same state finds the running instance, once", async () => {
    // The instance beside the candidate is another revision's, as in a rollout (instances are
    // named by revision and index on every target: the slot is where traffic points).
    const stable = await c.fx.driver.start(c.request({ slot: "stable", revision: 2 }));
    const fresh = c.fx.reopen();
    // Started is not yet running everywhere (a pod becomes Ready after it was created).
    const adopted = await until("both instances running", async () => {
      const all = await fresh.inspect(c.fx.project, c.fx.env);
      return all.length === 2 && all.every((i) => i.state === "running") ? all : undefined;
    });
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(adopted.map(c.key).sort(byId)).toEqual([c.candidate, stable].map(c.key).sort(byId));
    expect(await fresh.inspect(c.fx.project, c.fx.env)).toHaveLength(2);
    // The new driver drives what it adopted.
    const theirs = adopted.find((i) => i.id === stable.id) as Instance;
    await fresh.stop(theirs, { signal: "SIGTERM", graceMs: 5000 });
    expect((await c.fx.driver.inspect(c.fx.project, c.fx.env)).map((i) => i.id)).toEqual([c.candidate.id]);
    await fresh.close?.();
  });

  it("retires: a stopped instance is no longer live or routed, and its logs stay readable", async () => {
    const r = await c.fx.driver.stop(c.candidate, { signal: "SIGTERM", graceMs: 5000, retire: "superseded" });
    expect(await c.fx.driver.inspect(c.fx.project, c.fx.env)).toEqual([]);
    const after = await c.reach(c.candidate).catch(() => undefined);
    expect(after === undefined || after >= 400, `the retired instance still answers ${after}`).toBe(true);
    if (!c.fx.limits?.logsEndWithInstance)
      expect((await collect(c.fx.driver, [c.candidate], 50)).some((l) => c.fx.startLine.test(l))).toBe(true);
    if (c.fx.driver.retired) {
      const kept = await c.fx.driver.retired(c.fx.project, c.fx.env);
      expect(kept.map((i) => [i.revision, i.meta?.retired])).toEqual([[1, "superseded"]]);
      expect(r && r.keptAs).toBe(kept[0]?.id);
    }
  });

  it("prunes the artifacts of revisions not kept", async () => {
    await c.fx.driver.prune(c.fx.project, c.fx.env, c.fx.service.name, []);
    if (c.fx.limits?.artifactsInRegistry) return;
    await expect(
      c.fx.driver.prepare(c.fx.project, c.fx.env, c.fx.service, 1, { existingOnly: true }),
    ).rejects.toThrow(/r1/);
  });
}
