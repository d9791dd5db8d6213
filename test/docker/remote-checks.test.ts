/**
 * Pre-flight `resources` and `gpu` checks on a Docker target with SSH hosts run on every host,
 * through the built CLI: two sshd on loopback ports (test/support/sshd.ts) stand for two
 * machines, so what they measure is this machine's /proc, df of the engine's Docker root dir and
 * nvidia-smi — compared here with what the test reads itself. This machine has no GPU: no
 * nvidia-smi on PATH and no NVIDIA runtime in the engine (asserted), so a service requesting GPUs
 * fails the automatic "gpu runtime" item before any deploy; host B gets a fake nvidia-smi through
 * its sshd's PATH to show the output is read on the host.
 */
import { execFile, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../../src/factory.js";
import { silentLogger } from "../../src/logger.js";
import { runScheduledChecks } from "../../src/server/scheduled-checks.js";
import { loadSpecFile } from "../../src/spec/load.js";
import { resolveSpec } from "../../src/spec/resolve.js";
import { freePort } from "../support/ports.js";
import { startSshHosts, type SshHosts } from "../support/sshd.js";
import { uniqueProject } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const project = uniqueProject("dkchecks");
const dir = mkdtempSync(join(tmpdir(), "slipway-remote-checks-"));
const home = join(dir, "home");
const fakeBin = join(dir, "fake-bin");
let ssh: SshHosts;
let hostA: string;
let hostB: string;
let hostC: string;
let closed: string;

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "slipway.js"), "-f", file, ...args, "--in-process"],
    {
      cwd: dir,
      env: { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1", SSH_AUTH_SOCK: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((res) => child.on("exit", (code) => res({ code: code ?? -1, stdout, stderr })));
}

function spec(name: string, hosts: string[], body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `project: ${project}
environments:
  production:
    target:
      kind: docker
      hosts: [${hosts.map((h) => `"${h}"`).join(", ")}]
      ssh: { key: ./client_key, knownHosts: ./known_hosts }
${body}`,
  );
  return file;
}

interface Result {
  name: string;
  kind: string;
  status: string;
  evidence: string;
  lineStatus?: string[];
  details?: { hosts?: Array<Record<string, unknown>> } & Record<string, unknown>;
}

const resultsOf = (stdout: string) =>
  (JSON.parse(stdout) as { error: { details: { results: Result[] } } }).error.details.results;

/** Used share of memory as resources computes it, read here at the same moment. */
function memoryUsedHere(): number {
  const text = readFileSync("/proc/meminfo", "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(text)?.[1]);
  return 1 - kb("MemAvailable") / kb("MemTotal");
}

beforeAll(async () => {
  // Host B's sessions find a fake nvidia-smi first on PATH (what a real one prints for the query).
  mkdirSync(fakeBin);
  writeFileSync(
    join(fakeBin, "nvidia-smi"),
    [
      "#!/bin/sh",
      'case "$*" in *--query-gpu=index,name,memory.total,memory.free*--format=csv,noheader,nounits*) ;;',
      '  *) echo "unexpected args: $*" >&2; exit 2;; esac',
      "echo '0, NVIDIA L40S, 46068, 45000'",
      "",
    ].join("\n"),
  );
  chmodSync(join(fakeBin, "nvidia-smi"), 0o755);
  ssh = await startSshHosts(dir, 3, {
    env: (i): Record<string, string> => (i === 1 ? { PATH: `${fakeBin}:/usr/local/bin:/usr/bin:/bin` } : {}),
  });
  hostA = `root@127.0.0.1:${ssh.ports[0]}`;
  hostB = `root@127.0.0.1:${ssh.ports[1]}`;
  hostC = `root@127.0.0.1:${ssh.ports[2]}`;
  closed = `root@127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  await ssh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("resources and gpu checks on a 2-host docker target", () => {
  it("measure every host over SSH; a 0% threshold, missing nvidia-smi and the missing NVIDIA runtime fail naming the host", async () => {
    // What this machine is (both hosts are it): no nvidia-smi, no NVIDIA runtime.
    const info = (await new Docker({ socketPath: "/var/run/docker.sock" }).info()) as {
      DockerRootDir: string;
      Runtimes: Record<string, unknown>;
    };
    expect(Object.keys(info.Runtimes)).not.toContain("nvidia");
    const onPath = await promisify(execFile)("sh", ["-c", "command -v nvidia-smi || true"]);
    expect(onPath.stdout.trim()).toBe("");

    const file = spec(
      "all",
      [hostA, hostB],
      `services:
  llm:
    image: slipway-test/app:latest
    resources: { gpus: { count: 1 } }
checks:
  - resources: { disk: { max: 100% }, memory: { max: 100% } }
  - resources: { memory: { max: 0% }, cpu: { max: 100% } }
  - { name: gpu required, gpu: { count: 1 } }
  - { name: gpu optional, gpu: { count: 1, ifMissing: skip } }
`,
    );
    const r = await run(file, ["check", "production", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const [ok, zero, required, optional, runtimeA, runtimeB, ...rest] = resultsOf(r.stdout);
    expect(rest).toEqual([]);

    // One line per host, each naming it, with real values: this machine's memory, df of the
    // engine's Docker root dir (the default disk path on a host), its cores.
    expect(ok.status, ok.evidence).toBe("passed");
    const lines = ok.evidence.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${hostA}: disk used [\\d.]+% on ${info.DockerRootDir}`));
    expect(lines[1]).toContain(`${hostB}: `);
    expect(ok.lineStatus).toEqual(["passed", "passed"]);
    const hosts = ok.details?.hosts as Array<{
      host: string;
      status: string;
      disk: { path: string; value: number };
      memory: { value: number };
    }>;
    expect(hosts.map((h) => `${h.host} ${h.status}`)).toEqual([`${hostA} passed`, `${hostB} passed`]);
    const fs = statfsSync(info.DockerRootDir);
    const diskHere = (fs.blocks - fs.bfree) / (fs.blocks - fs.bfree + fs.bavail);
    for (const h of hosts) {
      expect(h.disk.path).toBe(info.DockerRootDir);
      expect(Math.abs(h.disk.value - diskHere)).toBeLessThan(0.01);
      expect(Math.abs(h.memory.value - memoryUsedHere())).toBeLessThan(0.05);
    }

    // max 0%: both hosts over it, each named with its measured value.
    expect(zero.status).toBe("failed");
    expect(zero.evidence).toMatch(
      new RegExp(`^${hostA}: memory used [\\d.]+%, [\\d.]+Gi available \\(max 0\\.0%\\); cpu load `, "m"),
    );
    expect(zero.evidence).toMatch(new RegExp(`^${hostB}: memory used `, "m"));
    expect(zero.lineStatus).toEqual(["failed", "failed"]);
    // The load on a shared machine may be over 100 % per core: its values, not its verdict.
    for (const h of zero.details?.hosts as Array<{ cpu: { cores: number; load1: number } }>) {
      expect(h.cpu.cores).toBe(availableParallelism());
      expect(h.cpu.load1).toBeGreaterThanOrEqual(0);
    }
    expect(zero.evidence).toMatch(/cpu load [\d.]+% \(load [\d.]+ on \d+ cores\)/);

    // gpu: host A has no nvidia-smi (fails, or is skipped with ifMissing: skip); host B's is read there.
    expect(required.status).toBe("failed");
    expect(required.evidence).toContain(`${hostA}: nvidia-smi not found on the host`);
    expect(required.evidence).toContain(`${hostB}: 1 GPU(s) present: #0 NVIDIA L40S 43.9Gi/45.0Gi free`);
    expect(optional.status, optional.evidence).toBe("passed");
    expect(optional.evidence).toContain(`${hostA}: nvidia-smi not found on the host`);

    // The automatic item per host: llm requests GPUs, and no engine here has the NVIDIA runtime.
    for (const [item, host] of [
      [runtimeA, hostA],
      [runtimeB, hostB],
    ] as const) {
      expect(item.name).toBe(`gpu runtime on ${host}`);
      expect(item.status).toBe("failed");
      expect(item.evidence).toMatch(
        /^service llm requests GPUs, but .* has no NVIDIA runtime \(docker info runtimes: .*runc/,
      );
    }
  });

  it("the human checklist shows every host's line; gpu is skipped when no host has nvidia-smi (ifMissing: skip)", async () => {
    const file = spec(
      "skip",
      [hostA, hostC],
      `services:
  web: { image: slipway-test/app:latest }
checks:
  - resources: { memory: { max: 100% } }
  - gpu: { count: 1, ifMissing: skip }
`,
    );
    const r = await run(file, ["check", "production"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `✔ resources memory .*\\n\\s+✔ ${hostA}: memory used [\\d.]+%.*\\n\\s+✔ ${hostC}: memory used [\\d.]+%`,
      ),
    );
    expect(r.stderr).toMatch(new RegExp(`- gpu ×1 .*\\n\\s+- ${hostA}: nvidia-smi not found on the host`));
    expect(r.stdout).toContain("checks passed: 1 passed, 1 skipped");
  });

  it("a local Docker target measures this machine (no host lines) and checks the local engine's GPU runtime", async () => {
    const file = join(dir, "local.yaml");
    writeFileSync(
      file,
      `project: ${project}
environments:
  staging: { target: docker }
services:
  llm: { image: slipway-test/app:latest, resources: { gpus: { devices: [0] } } }
checks:
  - resources: { disk: { path: ., max: 100% } }
`,
    );
    const r = await run(file, ["check", "staging", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const [disk, runtime, ...rest] = resultsOf(r.stdout);
    expect(rest).toEqual([]);
    expect(disk.status).toBe("passed");
    expect(disk.evidence).toMatch(new RegExp(`^disk used [\\d.]+% on ${dir}, `));
    expect(runtime.name).toBe("gpu runtime on local");
    expect(runtime.status).toBe("failed");
    expect(runtime.evidence).toContain("service llm requests GPUs, but local has no NVIDIA runtime");
  });

  it("scheduled checks (the daemon's handler) measure the SSH hosts too", async () => {
    const file = spec(
      "scheduled",
      [hostA, hostC],
      `services:
  web: { image: slipway-test/app:latest }
checks:
  - resources: { memory: { max: 0% } }
`,
    );
    const { spec: resolved } = resolveSpec(loadSpecFile(file), { env: "production" });
    const engine = await createRuntime({ home });
    try {
      const alerts: string[] = [];
      const [res] = await runScheduledChecks(
        {
          home,
          logger: silentLogger,
          publish: (_s, e) => alerts.push(e.type === "alert" ? e.message : ""),
          latest: () => undefined,
          // As src/server/daemon.ts wires it.
          preflight: (sp) => engine.preflight(sp.target),
        },
        resolved,
        { schedule: "checklist" },
      );
      expect(res?.status).toBe("failed");
      expect(res?.evidence).toMatch(new RegExp(`^${hostA}: memory used .*\\n${hostC}: memory used `));
      expect(alerts).toEqual([
        expect.stringContaining(`scheduled check "resources memory" failed (checklist): ${hostA}:`),
      ]);
    } finally {
      await engine.close();
    }
  });

  it("an unreachable host fails the check with a clear message, the reachable one is still measured", async () => {
    // localhost:PORT is the same sshd, but known_hosts trusts its key only as 127.0.0.1.
    const unknown = hostA.replace("127.0.0.1", "localhost");
    const file = spec(
      "unreachable",
      [hostA, closed, unknown],
      `services:
  web: { image: slipway-test/app:latest }
  llm: { image: slipway-test/app:latest, placement: { hosts: ["${hostA}"] }, resources: { gpus: { count: 1 } } }
  ocr: { image: slipway-test/app:latest, placement: { hosts: ["${closed}"] }, resources: { gpus: { count: 1 } } }
checks:
  - resources: { disk: { path: /, max: 100% }, memory: { max: 100% } }
`,
    );
    const r = await run(file, ["check", "production"]);
    // The GPU-runtime item of each host stands alone: the unreachable host does not hide host A's answer.
    expect(r.stderr).toMatch(
      new RegExp(
        `✖ gpu runtime on ${hostA} .*\\n\\s+service llm requests GPUs, but ${hostA} has no NVIDIA runtime`,
      ),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `✖ gpu runtime on ${closed} .*\\n\\s+service ocr requests GPUs, but cannot ask the engine on ${closed}: cannot connect \\(connect ECONNREFUSED`,
      ),
    );
    expect(r.code, r.stderr).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`✔ ${hostA}: disk used [\\d.]+% on /, `));
    expect(out).toContain(
      `✖ ${closed}: cannot connect (connect ECONNREFUSED 127.0.0.1:${closed.split(":")[1]})`,
    );
    expect(out).toContain(`✖ ${unknown}: its SSH host key is not in known_hosts`);
    expect(out).not.toMatch(/\n\s+at /);
  });
});
