/**
 * A multi-host Docker target through the built CLI: two SSH hosts (two sshd on loopback ports,
 * both reaching this machine's engine) — every host runs `replicas` instances of a service, a
 * stateful one runs on the host `placement` names, each container is labelled with its host, the
 * proxy serves both; a second deploy while one runs exits 3 (one lock for all hosts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestImages } from "../support/docker.js";
import { freePort, waitFor } from "../support/ports.js";
import { startSshHosts, type SshHosts } from "../support/sshd.js";
import { dockerStack } from "./stack.js";

// No ssh-agent: the key the spec names is the only one offered.
const stack = dockerStack("multi", { env: { SSH_AUTH_SOCK: "" } });
const { dir } = stack;
let ssh: SshHosts;
let port: number;
let hostA: string;
let hostB: string;

const cli = (args: string[], env: Record<string, string> = {}) => stack.start(args, { env });
const run = (args: string[], env: Record<string, string> = {}) => stack.cli(args, { env });

/** service host revision, per running container */
const placement = async () =>
  (await stack.containers())
    .map((c) => `${c.Labels["slipway.service"]} ${c.Labels["slipway.host"]} r${c.Labels["slipway.revision"]}`)
    .sort();

beforeAll(async () => {
  await ensureTestImages();
  ssh = await startSshHosts(dir, 2);
  port = await freePort();
  hostA = `root@127.0.0.1:${ssh.ports[0]}`;
  hostB = `root@127.0.0.1:${ssh.ports[1]}`;
  const environments = `  production:
    target:
      kind: docker
      hosts:
        - ${hostA}
        - { ssh: "${hostB}", publish: 127.0.0.1, name: b }
      ssh: { key: ./client_key, knownHosts: ./known_hosts }
`;
  stack.writeSpec(
    `services:
  web:
    image: slipway-test/app:latest
    port: ${port}
    containerPort: 3000
    replicas: 1
    env: { APP_VERSION: "\${VERSION}", HEALTH: "\${HEALTH:-ok}" }
    health: { http: /health, interval: 300ms, startTimeout: 3s }
    rollout: { drainTimeout: 1s, keepWarm: 0s }
    dependsOn: [cache]
  cache:
    image: slipway-test/redis:latest
    stateful: true
    placement: { hosts: [b] }
    health: { exec: "redis-cli ping | grep -q PONG", interval: 300ms, startTimeout: 20s }
`,
    environments,
  );
}, 300_000);

afterAll(async () => {
  await ssh?.stop();
  await stack.teardown();
});

describe("docker target on two hosts", () => {
  it("every host runs replicas: 1 of web; the stateful cache runs on the named host only", async () => {
    const d = await run(["deploy", "production", "--version", "v1", "--yes"]);
    expect(d.code, d.stderr).toBe(0);
    expect(await placement()).toEqual([`cache ${hostB} r1`, `web ${hostA} r1`, `web ${hostB} r1`].sort());
    // The proxy reaches the containers of both hosts.
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
        const b = JSON.parse(await r.text()) as { version: string; hostname: string };
        expect(b.version).toBe("v1");
        seen.add(b.hostname);
        return seen.size === 2;
      },
      { what: "answers from both web containers", timeoutMs: 15_000 },
    );
    const s = await run(["status", "production", "--json"]);
    const doc = JSON.parse(s.stdout) as {
      result: { services: { name: string; replicas: number; status: string }[] };
    };
    expect(doc.result.services.map((x) => `${x.name} ${x.replicas} ${x.status}`).sort()).toEqual([
      "cache 1 running",
      "web 2 running",
    ]);
    const st = await run(["stats", "production", "web"]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain(hostA);
    expect(st.stdout).toContain(hostB);
  }, 150_000); // ~60 Docker API calls, each a new SSH connection + dial-stdio (~0.7 s under load): see docs/docker.md

  it("a second deploy while one runs exits 3 (one lock for every host); the first rolls back", async () => {
    // A release that never gets healthy holds the lock for its startTimeout (3 s), then rolls back.
    const first = cli(["deploy", "production", "--version", "v2", "--only", "web", "--yes"], {
      HEALTH: "fail",
    });
    await waitFor(
      async () => {
        const l = await run(["lock", "production", "--json"]);
        return (JSON.parse(l.stdout) as { result: { lock: unknown } }).result.lock !== null;
      },
      { what: "the first deploy to hold the lock", intervalMs: 200 },
    );
    const second = await run(["deploy", "production", "--version", "v3", "--only", "web", "--yes"]);
    expect(second.code, second.stderr).toBe(3);
    expect(second.stderr).toMatch(/lock|held/i);
    const r = await first.done;
    expect(r.code).toBe(1);
    expect(await placement()).toEqual([`cache ${hostB} r1`, `web ${hostA} r1`, `web ${hostB} r1`].sort());
  });
});
