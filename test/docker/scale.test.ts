/**
 * `slipway scale` on the Docker target, through the built CLI, the daemon and the real engine:
 * up to three containers that all answer through the proxy, down to one, no new revision; the
 * next deploy of an unchanged spec keeps the scaled count (docs/day-two.md's rule); the scale
 * events appear in `slipway history` with who scaled.
 */
import { get } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { freePort } from "../support/ports.js";
import { dockerStack } from "./stack.js";

const stack = dockerStack("scale", { inProcess: false });
const { cli } = stack;
let port: number;

beforeAll(async () => {
  await ensureTestImages();
  port = await freePort();
  stack.writeSpec(
    `services:
  web:
    image: slipway-test/app:latest
    port: ${port}
    containerPort: 3000
    env: { RELEASE: "\${VERSION}" }
    health: { http: /health, interval: 300ms, startTimeout: 15s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
    resources: { memory: 96Mi }
`,
  );
  const d = await cli(["deploy", "staging", "--version", "v1", "--yes"]);
  expect(d.code, d.stderr).toBe(0);
}, 300_000);

afterAll(() => stack.teardown());

/** The hostnames (container ids) that answer through the proxy in `n` requests. */
async function answering(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const body = await new Promise<string>((res, rej) => {
      const req = get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 5000 }, (r) => {
        let b = "";
        r.on("data", (d: Buffer) => (b += d.toString()));
        r.on("end", () => (r.statusCode === 200 ? res(b) : rej(new Error(`${r.statusCode}: ${b}`))));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", rej);
    });
    seen.add((JSON.parse(body) as { hostname: string }).hostname);
  }
  return seen;
}

interface StatusJson {
  result: {
    revision: { number: number };
    services: { name: string; replicas: number; instances: unknown[] }[];
  };
}
const json = <T>(r: { stdout: string }) => JSON.parse(r.stdout) as T;
const status = async () => {
  const s = json<StatusJson>(await cli(["status", "staging", "--json"])).result;
  const web = s.services.find((x) => x.name === "web")!;
  return { revision: s.revision.number, replicas: web.replicas, running: web.instances.length };
};

describe("scale on the docker target", () => {
  it("scales up and down, every container answers, the next deploy keeps the count, history shows it", async () => {
    const up = await cli(["scale", "staging", "web", "3", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(json<{ result: { from: number; to: number } }>(up).result).toMatchObject({ from: 1, to: 3 });
    expect(await stack.containers()).toHaveLength(3);
    expect(await status()).toEqual({ revision: 1, replicas: 3, running: 3 });
    expect((await answering(30)).size).toBe(3);

    // A new release with the same spec: rolled out with the scaled count (the spec did not change replicas).
    const next = await cli(["deploy", "staging", "--version", "v2", "--yes"]);
    expect(next.code, next.stderr).toBe(0);
    expect(await status()).toEqual({ revision: 2, replicas: 3, running: 3 });
    expect((await answering(30)).size).toBe(3);

    const down = await cli(["scale", "staging", "web", "1"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/web: 3 → 1 instance\(s\) of revision 2/);
    expect(await stack.containers()).toHaveLength(1);
    expect(await status()).toEqual({ revision: 2, replicas: 1, running: 1 });
    expect((await answering(10)).size).toBe(1);

    // History: two revisions and, between them, the revision-less scale events with who scaled.
    const h = await cli(["history", "staging", "--json"]);
    expect(h.code, h.stderr).toBe(0);
    const entries = json<{
      result: {
        revision: { number: number };
        events?: { kind: string; actor?: string; message: string }[];
      }[];
    }>(h).result;
    // Every entry is a revision (the --json shape of earlier releases); each scale rides on the
    // revision it happened under, newest first.
    expect(entries.map((e) => [e.revision.number, (e.events ?? []).map((x) => x.kind)])).toEqual([
      [2, ["service.scaled"]],
      [1, ["service.scaled"]],
    ]);
    const newest = entries[0].events?.[0];
    expect(newest).toMatchObject({ actor: expect.stringMatching(/\S+@\S+/) });
    expect(newest?.message).toMatch(/web scaled from 3 to 1 instance\(s\)/);
    const human = await cli(["history", "staging"]);
    expect(human.stdout).toMatch(/service.scaled .* web scaled from 1 to 3 instance\(s\) by /);
  }, 300_000);
});
