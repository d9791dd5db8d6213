/**
 * Through the daemon (the CLI's default), the kubeconfig checked and used is the calling shell's
 * `$KUBECONFIG`, not the one of the shell that happened to start the daemon: a second shell whose
 * kubeconfig points the context at another cluster is refused (exit 4) before anything is sent,
 * and a kubeconfig that does not exist is refused with its path, no revision made. Against the
 * Kubernetes API server DOUBLE (test/support/kube-apiserver-double.ts), not a cluster.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, killDaemon } from "../e2e/harness.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-k8s-daemon-kc-"));
const home = join(dir, ".home");
let double: KubeApiServerDouble;

const SPEC = `project: kc
environments:
  production:
    target: { kind: kubernetes, context: prod-ctx, cluster: prod-eu-1, namespace: kc }
services:
  api:
    image: registry.example.com/kc-api:\${VERSION}
    port: 3000
    health: { http: /health }
`;

/** The real CLI (through the daemon, started on demand) with this shell's KUBECONFIG. */
function slipway(
  kubeconfig: string,
  ...args: string[]
): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLIPWAY_HOME: home,
      NO_COLOR: "1",
      KUBECONFIG: kubeconfig,
    };
    delete env.SLIPWAY_DATABASE_URL;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, timeout: 90_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, out: stdout + stderr, stdout }));
  });
}

beforeAll(async () => {
  double = await startKubeDouble();
  writeFileSync(join(dir, "slipway.yaml"), SPEC);
  writeFileSync(join(dir, "right"), double.kubeconfig({ context: "prod-ctx", cluster: "prod-eu-1" }));
  writeFileSync(join(dir, "wrong"), double.kubeconfig({ context: "prod-ctx", cluster: "staging-1" }));
});
afterAll(async () => {
  killDaemon(home);
  await double?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the daemon uses the calling shell's kubeconfig", () => {
  it("a daemon started with the right kubeconfig refuses a later shell's wrong one, and a missing one", async () => {
    const first = await slipway(join(dir, "right"), "deploy", "production", "--version", "1.0");
    expect(first.code, first.out).toBe(0);
    const before = double.requests.length;

    const wrong = await slipway("wrong", "deploy", "production", "--version", "2.0"); // relative to the shell's cwd
    expect(wrong.code, wrong.out).toBe(4);
    expect(wrong.out).toContain('points at cluster "staging-1", but the spec names cluster "prod-eu-1"');

    const missing = join(dir, "nowhere");
    const none = await slipway(missing, "--json", "deploy", "production", "--version", "2.0");
    expect(none.code, none.out).toBe(4);
    const doc = JSON.parse(none.stdout) as {
      error: { name: string; message: string };
    };
    expect(doc.error.name).toBe("Refused");
    expect(doc.error.message).toContain(`no kubeconfig at ${missing}`);
    expect(none.out).not.toMatch(/ENOENT|\n\s+at /);

    // Nothing was changed on the cluster (the daemon's crash-loop watch only reads it meanwhile).
    const writes = double.requests.slice(before).filter((r) => r.method !== "GET");
    expect(writes).toEqual([]);
    const history = await slipway(join(dir, "right"), "--json", "history", "production");
    expect(history.code, history.out).toBe(0);
    const revisions = (JSON.parse(history.stdout) as { result: unknown[] }).result;
    expect(revisions).toHaveLength(1); // no failed revision for the refused deploys
  }, 180_000);

  it("a spec's target.kubeconfig is relative to slipway.yaml, not to the daemon's directory", async () => {
    mkdirSync(join(dir, "sub"));
    writeFileSync(
      join(dir, "sub", "slipway.yaml"),
      SPEC.replace("project: kc", "project: kc2").replace(
        "namespace: kc }",
        "namespace: kc2, kubeconfig: ../right }",
      ),
    );
    // The shell's KUBECONFIG names the wrong cluster: the spec's own kubeconfig wins.
    const r = await slipway("wrong", "-f", "sub/slipway.yaml", "deploy", "production", "--version", "1.0");
    expect(r.code, r.out).toBe(0);
    expect(double.objects("deployments", "kc2").map((d) => d.metadata?.name)).toEqual(["api-r1"]);
  }, 120_000);
});
