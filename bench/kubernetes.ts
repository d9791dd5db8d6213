/**
 * Kubernetes deploy and rollback on the API server DOUBLE (test/support/kube-apiserver-double.ts,
 * in this process), Slipway beside what the seeds do with the real kubectl v1.33 against the same
 * double:
 *
 *   deploy    `slipway deploy ENV --version V2`        vs `kubectl apply -f v2.yaml && kubectl rollout status`
 *             (from the start of the command(s) to every pod of the new version Ready and serving)
 *   rollback  `slipway rollback ENV`                    vs `kubectl rollout undo && kubectl rollout status`
 *             (to 100 % old version: every pod the Service selects is the old version and Ready,
 *             no pod of the new one selected; and to the end of the command(s))
 *
 * Same double, same pod start-up (Ready `--ready-ms` after creation, default 500), same replicas (3).
 * Slipway keeps the previous revision warm (blue-green, `keepWarm`), so its rollback is one Service
 * apply; kubectl's undo makes the Deployment roll the old ReplicaSet's pods up again. The double's
 * deployment controller scales the new ReplicaSet up in one step (no maxSurge pacing), which
 * favours kubectl. Both CLIs are timed as users run them (process start included). Slipway runs
 * twice: as users run it (the CLI a client of the `slipway serve` daemon it starts on demand, where
 * @kubernetes/client-node is loaded once) and with `--in-process` (CI mode: every command loads
 * client-node, which is seconds on a loaded machine).
 *
 *   npm run build && npx tsx bench/kubernetes.ts [--rounds 3] [--ready-ms 500]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startKubeDouble, type KubeApiServerDouble } from "../test/support/kube-apiserver-double.js";
import { kubeTools } from "../test/support/kube-tools.js";

const BIN = join(resolve(import.meta.dirname, ".."), "bin", "slipway.js");
const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, "ready-ms": { type: "string", default: "500" } },
});
const ROUNDS = Number(values.rounds);
const READY_MS = Number(values["ready-ms"]);
const REPLICAS = 3;

function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
    let err = "";
    child.stdout.resume();
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) =>
      code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(" ")} → ${code}\n${err}`)),
    );
  });
}

type Obj = {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
};
const ready = (p: Obj) =>
  (p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some(
    (c) => c.type === "Ready" && c.status === "True",
  ) ?? false;
const imageOf = (p: Obj) => (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? "";

/** Pods a Service selects in `ns`: all Ready and all of `image`, and REPLICAS of them. */
function serving(d: KubeApiServerDouble, ns: string, service: string, image: string): boolean {
  const svc = d.objects("services", ns).find((s) => s.metadata?.name === service);
  const sel = (svc?.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {};
  const pods = d
    .objects("pods", ns)
    .filter((p) => Object.entries(sel).every(([k, v]) => p.metadata?.labels?.[k] === v));
  return pods.length === REPLICAS && pods.every((p) => ready(p) && imageOf(p) === image);
}

/** Time (ms after t0) when `cond` first holds, watching every write to the double. */
function when(d: KubeApiServerDouble, cond: () => boolean): { at: Promise<number>; t0: number } {
  const t0 = performance.now();
  let off = () => {};
  const at = new Promise<number>((resolve) => {
    const check = () => {
      if (cond()) {
        off();
        resolve(performance.now() - t0);
      }
    };
    off = d.store.subscribe(() => setImmediate(check));
  });
  return { at, t0 };
}

interface Times {
  deploy: number;
  deployCmd: number;
  rollback: number;
  rollbackCmd: number;
}

async function slipwayRound(
  d: KubeApiServerDouble,
  dir: string,
  kubeconfig: string,
  round: number,
  mode: "daemon" | "in-process",
): Promise<Times> {
  const ns = `slipway-${mode}-${round}`;
  writeFileSync(
    join(dir, "slipway.yaml"),
    `project: bench-${mode}-${round}
environments:
  production:
    # kubectl asks no registry either (and none is reachable here): the same work on both sides.
    target: { kind: kubernetes, namespace: ${ns}, resolveDigests: false }
services:
  web:
    image: bench/web:\${VERSION}
    port: 8080
    replicas: ${REPLICAS}
    health: { http: /health, startTimeout: 60s }
    rollout: { strategy: blue-green, keepWarm: 10m }
`,
  );
  const env = { KUBECONFIG: kubeconfig };
  const home = join(dir, `.home-${mode}`);
  const flags = mode === "in-process" ? ["--in-process"] : [];
  const cli = (...a: string[]) => run(process.execPath, [BIN, ...flags, "--home", home, ...a], env, dir);
  await cli("deploy", "production", "--version", "1", "--yes");
  const dep = when(d, () => serving(d, ns, "web", "bench/web:2"));
  await cli("deploy", "production", "--version", "2", "--yes");
  const deployCmd = performance.now() - dep.t0;
  const deploy = await dep.at;
  const rb = when(d, () => serving(d, ns, "web", "bench/web:1"));
  await cli("rollback", "production", "--yes");
  const rollbackCmd = performance.now() - rb.t0;
  return { deploy: Math.max(deploy, 0), deployCmd, rollback: await rb.at, rollbackCmd };
}

async function kubectlRound(
  d: KubeApiServerDouble,
  dir: string,
  kubeconfig: string,
  round: number,
): Promise<Times> {
  const { kubectl } = kubeTools();
  const ns = `kubectl-${round}`;
  const env = { KUBECONFIG: kubeconfig };
  const k = (...a: string[]) => run(kubectl, ["-n", ns, ...a], env, dir);
  const manifest = (v: string) =>
    [
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${ns}"}}`,
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: ns },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              containers: [{ name: "web", image: `bench/web:${v}`, ports: [{ containerPort: 8080 }] }],
            },
          },
        },
      }),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: ns },
        spec: { selector: { app: "web" }, ports: [{ port: 8080 }] },
      }),
    ].join("\n---\n");
  for (const v of ["1", "2"]) writeFileSync(join(dir, `k-${round}-v${v}.yaml`), manifest(v));
  // --validate=false: the double serves no OpenAPI document (a real cluster validates server-side).
  await k("apply", "--validate=false", "-f", join(dir, `k-${round}-v1.yaml`));
  await k("rollout", "status", "deployment/web", "--timeout=60s");
  const dep = when(d, () => serving(d, ns, "web", "bench/web:2"));
  await k("apply", "--validate=false", "-f", join(dir, `k-${round}-v2.yaml`));
  await k("rollout", "status", "deployment/web", "--timeout=60s");
  const deployCmd = performance.now() - dep.t0;
  const deploy = await dep.at;
  const rb = when(d, () => serving(d, ns, "web", "bench/web:1"));
  await k("rollout", "undo", "deployment/web");
  await k("rollout", "status", "deployment/web", "--timeout=60s");
  const rollbackCmd = performance.now() - rb.t0;
  return { deploy, deployCmd, rollback: await rb.at, rollbackCmd };
}

/** Stop the daemon the first CLI call started (by its recorded pid). */
function stopDaemon(home: string): void {
  try {
    const { pid } = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8")) as { pid: number };
    process.kill(pid, "SIGTERM");
  } catch {
    /* not started, or gone */
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const f = (ms: number) => `${Math.round(ms)} ms`;

async function main(): Promise<void> {
  const d = await startKubeDouble({ behaviour: () => ({ readyAfterMs: READY_MS }) });
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-k8s-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, d.kubeconfig());
  const s: Times[] = [];
  const p: Times[] = [];
  const k: Times[] = [];
  const show = (x: Times | undefined) =>
    JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" ? Math.round(v) : v));
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which goes first, so a load spike does not favour one side.
      const order = [0, 1, 2].map((i) => (i + r) % 3);
      for (const o of order)
        if (o === 0) s.push(await slipwayRound(d, dir, kubeconfig, r, "daemon"));
        else if (o === 1) p.push(await slipwayRound(d, dir, kubeconfig, r, "in-process"));
        else k.push(await kubectlRound(d, dir, kubeconfig, r));
      console.log(`round ${r + 1}: slipway (daemon) ${show(s.at(-1))}`);
      console.log(`         slipway --in-process ${show(p.at(-1))}`);
      console.log(`         kubectl ${show(k.at(-1))}`);
    }
  } finally {
    stopDaemon(join(dir, ".home-daemon"));
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (name: string, key: keyof Times) => {
    const a = median(s.map((t) => t[key]));
    const b = median(p.map((t) => t[key]));
    const c = median(k.map((t) => t[key]));
    console.log(`| ${name} | ${f(a)} | ${f(b)} | ${f(c)} | ${(a / c).toFixed(2)} | ${(b / c).toFixed(2)} |`);
  };
  console.log(
    `\nKubernetes on the API server double — ${ROUNDS} rounds, pods Ready ${READY_MS} ms after creation, ${REPLICAS} replicas`,
  );
  console.log(
    `${cpus().length} cores, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}\n`,
  );
  console.log(
    "| median | Slipway (daemon) | Slipway --in-process | kubectl | ratio daemon/kubectl | ratio in-process/kubectl |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  row("deploy: to all new pods Ready and selected", "deploy");
  row("deploy: command(s) done", "deployCmd");
  row("rollback: to 100 % old version", "rollback");
  row("rollback: command(s) done", "rollbackCmd");
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
