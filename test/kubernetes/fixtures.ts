/** The production example as a project on disk, resolved like `slipway deploy` does. */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSpecText } from "../../src/spec/load.js";
import { resolveSpec, type Resolution } from "../../src/spec/resolve.js";
import { BIN } from "../e2e/harness.js";
import { kubeTools } from "../support/kube-tools.js";

export const EXAMPLE = `project: runbook
environments:
  production:
    target: { kind: kubernetes, context: prod-cluster, namespace: runbook, cluster: prod-eu-1 }
    protect: true
services:
  api:
    image: registry.example.com/runbook-api:\${VERSION}
    port: 3000
    replicas: 3
    autoscale: { min: 3, max: 10, cpu: 70% }
    resources: { cpus: 1, memory: 1Gi, requests: { cpus: "500m", memory: 512Mi } }
    envFile: .env.production
    env: { LOG_LEVEL: info, JWT_SECRET: "\${JWT_SECRET}" }
    health: { http: /health, interval: 5s, timeout: 2s, unhealthyThreshold: 3, startTimeout: 60s }
    migrate: { up: npm run migrate:up, down: npm run migrate:down }
    domains: [api.example.com]
    tls: { secretName: api-tls }
    command: node dist/server.js --cluster
  db:
    image: postgres:16
    port: 5432
    stateful: true
    volumes: [pgdata:/var/lib/postgresql/data, ./init:/docker-entrypoint-initdb.d]
    health: { tcp: true }
  worker:
    image: registry.example.com/runbook-worker:\${VERSION}
    command: [node, worker.js]
    health: { exec: "test -f /tmp/ready" }
`;

export function exampleProject(yaml = EXAMPLE): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "slipway-k8s-"));
  writeFileSync(join(dir, ".env.production"), "DATABASE_URL=postgres://u:hunter2@db:5432/app\n");
  const file = join(dir, "slipway.yaml");
  writeFileSync(file, yaml);
  return { dir, file };
}

export function resolveExample(
  yaml = EXAMPLE,
  version = "1.4.2",
  vars: Record<string, string> = {},
): Resolution {
  const { file } = exampleProject(yaml);
  return resolveSpec(parseSpecText(yaml, file), {
    env: "production",
    version,
    vars: { JWT_SECRET: "s3cret-jwt", ...vars },
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `slipway --in-process --home HOME ARGS` run in `cwd` with `env` (the engine in the CLI, no daemon). */
export function inProcessCli(
  home: string,
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "--in-process", "--home", home, ...args], { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI's environment for chart tests: the double's kubeconfig and the real helm binary. */
export function chartEnv(kubeconfig: string): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: "1", KUBECONFIG: kubeconfig, SLIPWAY_HELM: kubeTools().helm };
}
