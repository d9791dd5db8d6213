/**
 * Multi-host over SSH: Debian's sshd on a loopback port (host key and client key generated in a
 * temp dir, root login by key only). The remote "host" is this same Docker Engine reached through
 * SSH (`docker system dial-stdio` on the far side), as Kamal and the Docker CLI do.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerDriver } from "../../src/drivers/docker/docker-driver.js";
import { knownHostTrusts, parseHost } from "../../src/drivers/docker/hosts.js";
import { ensureTestImages, removeProject } from "../support/docker.js";
import { waitFor } from "../support/ports.js";
import { startSshHosts, type SshHosts } from "../support/sshd.js";
import { request, service, uniqueProject } from "./helpers.js";

const exec = promisify(execFile);
const project = uniqueProject("ssh");
let dir: string;
let ssh: SshHosts | undefined;
let port: number;
let hostPub: string;

beforeAll(async () => {
  await ensureTestImages();
  dir = mkdtempSync(join(tmpdir(), "slipway-sshd-"));
  ssh = await startSshHosts(dir, 1);
  port = ssh.ports[0] as number;
  hostPub = ssh.hostPublicKey;
}, 300_000);

afterAll(async () => {
  await ssh?.stop();
  await removeProject(project);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("DockerDriver over SSH", () => {
  it("parses host specs and checks known_hosts (plain and hashed)", async () => {
    expect(parseHost("deploy@10.0.0.5:2222")).toEqual({ user: "deploy", host: "10.0.0.5", port: 2222 });
    expect(parseHost("gpu-1")).toEqual({ user: "root", host: "gpu-1", port: 22 });
    const key = hostPub.split(" ")[1] as string;
    expect(knownHostTrusts(`[127.0.0.1]:${port} ssh-ed25519 ${key}`, "127.0.0.1", port, key)).toBe(true);
    expect(knownHostTrusts(`127.0.0.1 ssh-ed25519 ${key}`, "127.0.0.1", port, key)).toBe(false);
    // A revoked key is refused even though another line trusts it.
    const revoked = `[127.0.0.1]:${port} ssh-ed25519 ${key}\n@revoked * ssh-ed25519 ${key}`;
    expect(knownHostTrusts(revoked, "127.0.0.1", port, key)).toBe(false);
    // ssh-keygen -H hashes the names; the check must still find them.
    const hashedFile = join(dir, "known_hosts_hashed");
    writeFileSync(hashedFile, readFileSync(join(dir, "known_hosts")));
    await exec("ssh-keygen", ["-H", "-f", hashedFile]);
    const hashed = readFileSync(hashedFile, "utf8");
    expect(hashed).toMatch(/^\|1\|/);
    expect(knownHostTrusts(hashed, "127.0.0.1", port, key)).toBe(true);
    expect(knownHostTrusts(hashed, "127.0.0.2", port, key)).toBe(false);
  });

  it("deploys, inspects, reaches and stops a container on an SSH host", async () => {
    const host = `root@127.0.0.1:${port}`;
    const d = new DockerDriver({
      home: dir,
      hosts: [host],
      ssh: { privateKeyPath: join(dir, "client_key"), knownHostsPath: join(dir, "known_hosts") },
    });
    const svc = service("web", { image: "slipway-test/app:latest", port: 8080, containerPort: 3000 });
    const a = await d.prepare(project, "test", svc, 1);
    const inst = await d.start(request(project, svc, a, { version: "ssh-1" }));
    expect(inst.meta?.host).toBe(host);
    const found = await d.inspect(project, "test");
    expect(found.map((i) => [i.id, i.meta?.host, i.state])).toEqual([[inst.id, host, "running"]]);
    const body = await waitFor(
      async () =>
        (await fetch(`http://${inst.host}:${inst.port}/`, { signal: AbortSignal.timeout(2000) })).text(),
      { what: "app over the SSH host" },
    );
    expect(JSON.parse(body)).toMatchObject({ service: "web" });
    const r = await d.runOnce(request(project, svc, a), "echo via-ssh", { timeoutMs: 30_000 });
    expect(r).toEqual({ exitCode: 0, output: "via-ssh" });
    await d.stop(inst, { signal: "SIGTERM", graceMs: 5000 });
    expect(await d.inspect(project, "test")).toEqual([]);
  });

  it("refuses a host whose key is not in known_hosts, with a clear message", async () => {
    writeFileSync(join(dir, "empty_known_hosts"), "");
    const d = new DockerDriver({
      home: dir,
      hosts: [`root@127.0.0.1:${port}`],
      ssh: { privateKeyPath: join(dir, "client_key"), knownHostsPath: join(dir, "empty_known_hosts") },
    });
    const err = await d.inspect(project, "test").catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/SSH host key is not in known_hosts/);
  });
});
