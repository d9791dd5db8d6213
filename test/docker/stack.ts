/**
 * A Slipway project on the Docker target driven through the real CLI, for the end-to-end Docker
 * suites: a temp dir holding slipway.yaml and SLIPWAY_HOME, a CLI runner, the project's
 * containers, and a teardown that stops what the CLI left running and removes the project.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Docker from "dockerode";
import { removeProject } from "../support/docker.js";
import { uniqueProject } from "./helpers.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "slipway.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

export type CliRun = ChildProcess & { out(): string; err(): string; done: Promise<CliResult> };

export interface CliOptions {
  /** Extra environment for the CLI (on top of the stack's). */
  env?: Record<string, string>;
  /** Append --in-process, so the engine runs in the CLI and no daemon starts (default true). */
  inProcess?: boolean;
  /** Run src/cli/main.ts through tsx instead of the build in dist/ (default false). */
  fromSource?: boolean;
}

export interface DockerStack {
  project: string;
  dir: string;
  home: string;
  file: string;
  docker: Docker;
  /** Write slipway.yaml: this project, `environments` (default: staging on the local engine), then `services`. */
  writeSpec(services: string, environments?: string): void;
  start(args: string[], opts?: CliOptions): CliRun;
  cli(args: string[], opts?: CliOptions): Promise<CliResult>;
  /** The project's containers (running ones, or all with `all`). */
  containers(opts?: { all?: boolean }): Promise<Docker.ContainerInfo[]>;
  /** SIGTERM the proxy and the daemon the CLI left behind, remove the project's objects and the dir. */
  teardown(): Promise<void>;
}

/** `name` makes the project (`dk<name>-…`) and temp dir (`slipway-docker-<name>-…`) names. */
export function dockerStack(name: string, defaults: CliOptions = {}): DockerStack {
  const project = uniqueProject(`dk${name}`);
  const dir = mkdtempSync(join(tmpdir(), `slipway-docker-${name}-`));
  const home = join(dir, "home");
  const file = join(dir, "slipway.yaml");
  const docker = new Docker({ socketPath: "/var/run/docker.sock" });

  function start(args: string[], opts: CliOptions = {}): CliRun {
    const inProcess = opts.inProcess ?? defaults.inProcess ?? true;
    const fromSource = opts.fromSource ?? defaults.fromSource ?? false;
    const entry = fromSource ? ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")] : [BIN];
    const t0 = Date.now();
    const child = spawn(
      process.execPath,
      [...entry, "-f", file, ...args, ...(inProcess ? ["--in-process"] : [])],
      {
        // tsx is resolved from the working directory.
        cwd: fromSource ? ROOT : dir,
        env: { ...process.env, SLIPWAY_HOME: home, NO_COLOR: "1", ...defaults.env, ...opts.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    const done = new Promise<CliResult>((res) =>
      child.on("exit", (code) => res({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 })),
    );
    return Object.assign(child, { out: () => stdout, err: () => stderr, done });
  }

  return {
    project,
    dir,
    home,
    file,
    docker,
    writeSpec(services, environments = "  staging: { target: docker }\n") {
      writeFileSync(file, `project: ${project}\nenvironments:\n${environments}${services}`);
    },
    start,
    cli: (args, opts) => start(args, opts).done,
    containers: (opts = {}) =>
      docker.listContainers({ all: opts.all ?? false, filters: { label: [`slipway.project=${project}`] } }),
    async teardown() {
      for (const f of [join(home, "proxy", "proxy.pid"), join(home, "daemon.json")]) {
        if (!existsSync(f)) continue;
        const text = readFileSync(f, "utf8").trim();
        const pid = text.startsWith("{") ? (JSON.parse(text) as { pid: number }).pid : Number(text);
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          /* already gone */
        }
      }
      await removeProject(project);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
