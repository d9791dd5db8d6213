/**
 * examples/agent-platform (seed 001, the agent system's runbook), run as its README tells a reader:
 * `slipway init --example agent-platform`; development from the runbook's docker-compose.yml
 * (`slipway init --from-compose`, then deploy) on the real Docker Engine with a real PostgreSQL and
 * Redis in containers; the curated slipway.yaml deployed over it (migrations up before traffic
 * moves, then `slipway migrate` status/down --to 5/up against that PostgreSQL); a release whose
 * error rate passes the runbook's 50 % rolled back by itself under real load; staging and
 * production rendered and validated against the Kubernetes OpenAPI schemas; staging deployed on
 * the Kubernetes API server DOUBLE (test/support/kube-apiserver-double.ts — no cluster here), where
 * a crash-looping release fails at once and traffic stays on the running one.
 *
 * Stand-ins, said so: the API is a plain-Node stand-in (examples/agent-platform/app, no LLM), the
 * images build offline (BASE_IMAGE / POSTGRES_IMAGE / REDIS_IMAGE point at scripts/build-test-images.sh's
 * images, PostgreSQL and Redis being the host's real servers), and the cluster is the double.
 * The analysis windows are shortened through the spec's variables; the 50 % threshold is the runbook's.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BIN, killDaemon, processesUnder } from "../e2e/harness.js";
import { startLoad } from "../e2e/load.js";
import { ensureTestImages, removeProject } from "../support/docker.js";
import { startKubeDouble, type KubeApiServerDouble } from "../support/kube-apiserver-double.js";
import { validateManifest } from "../support/kube-schema.js";
import { freePort } from "../support/ports.js";

const exec = promisify(execFile);
const PROJECT = "agent-system"; // the example's own project name (Compose's `name:`)

const dir = mkdtempSync(join(tmpdir(), "slipway-agent-platform-"));
const home = mkdtempSync(join(tmpdir(), "slipway-agent-platform-home-"));
let double: KubeApiServerDouble;
let env: NodeJS.ProcessEnv = {};
let apiPort = 0;
let pgPort = 0;

interface Run {
  code: number | null;
  out: string;
  stdout: string;
}

/** `slipway ARGS` in the example's directory, as the README writes it (async: the load keeps running). */
function slipway(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...env, ...extra } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, out: stdout + stderr, stdout }));
  });
}

function get(path: string): Promise<{ status: number; body: string }> {
  return fetch(`http://127.0.0.1:${apiPort}${path}`).then(async (r) => ({
    status: r.status,
    body: await r.text(),
  }));
}

async function sql<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const c = new pg.Client({
    connectionString: `postgresql://agent_user:agent_password_123@127.0.0.1:${pgPort}/agent_system`,
  });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function removeImages(): Promise<void> {
  const { stdout } = await exec("docker", ["images", "-q", "--filter", `reference=slipway/${PROJECT}-*`]);
  const ids = [...new Set(stdout.split(/\s+/).filter(Boolean))];
  if (ids.length) await exec("docker", ["rmi", "-f", ...ids]).catch(() => undefined);
}

beforeAll(async () => {
  await ensureTestImages();
  await removeProject(PROJECT);
  double = await startKubeDouble();
  const kubeconfig = join(dir, ".kubeconfig");
  // The runbook's two contexts (`kubectl config use-context staging-cluster | prod-cluster`), both on
  // the double.
  writeFileSync(
    kubeconfig,
    double
      .kubeconfig({ context: "staging-cluster", cluster: "staging-cluster" })
      .replace(
        /^contexts: \[(.*)\]$/m,
        "contexts: [$1, { name: prod-cluster, context: { cluster: prod-cluster, user: double-user } }]",
      )
      .replace(
        /^clusters: \[(.*)\]$/m,
        (_, c: string) => `clusters: [${c}, ${c.replace("staging-cluster", "prod-cluster")}]`,
      ),
  );
  [apiPort, pgPort] = await Promise.all([freePort(), freePort()]);
  env = {
    ...process.env,
    SLIPWAY_HOME: home,
    NO_COLOR: "1",
    KUBECONFIG: kubeconfig,
    // the README's "no registry" variables: the offline images
    BASE_IMAGE: "slipway-test/node:latest",
    POSTGRES_IMAGE: "slipway-test/postgres:latest",
    REDIS_IMAGE: "slipway-test/redis:latest",
    // free ports instead of the runbook's 5000, 5432, 6379
    API_PORT: String(apiPort),
    POSTGRES_PORT: String(pgPort),
    REDIS_PORT: String(await freePort()),
    // short windows; the thresholds stay the runbook's
    ANALYSIS_INTERVAL: "1s",
    ANALYSIS_BAKE: "4s",
  };
  delete env.SLIPWAY_DATABASE_URL;
}, 300_000);

afterAll(async () => {
  await slipway(["destroy", "development", "--yes"]).catch(() => undefined);
  killDaemon(home);
  // The proxy outlives the daemon by design; this test started it, so it ends it.
  for (const p of processesUnder(home))
    try {
      process.kill(p.pid, "SIGTERM");
    } catch {
      /* gone */
    }
  await removeProject(PROJECT);
  await removeImages();
  await double?.close();
  for (const d of [dir, home]) rmSync(d, { recursive: true, force: true });
}, 120_000);

describe("examples/agent-platform (seed 001)", () => {
  it("init --example copies it, env files private; validate sees the three environments", async () => {
    const r = await slipway(["init", "--example", "agent-platform"]);
    expect(r.code, r.out).toBe(0);
    expect(statSync(join(dir, ".env.prod")).mode & 0o777).toBe(0o600);
    const v = await slipway(["validate"]);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toContain("environments: development, staging, production");
  });

  it("development from the runbook's docker-compose.yml: imported, then deployed on Docker", async () => {
    const imp = await slipway(["init", "--from-compose", "docker-compose.yml", "-f", "slipway.compose.yaml"]);
    expect(imp.code, imp.out).toBe(0);
    expect(imp.out).not.toContain("could not be mapped");
    // The import is what slipway.yaml's services start from (slipway.yaml marks its additions).
    const imported = readFileSync(join(dir, "slipway.compose.yaml"), "utf8");
    expect(imported).toContain("port: ${API_PORT:-5000}");
    expect(imported).toContain("http: /api/health");

    const d = await slipway(["-f", "slipway.compose.yaml", "deploy", "development", "--version", "v1"]);
    expect(d.code, d.out).toBe(0);
    const h = await get("/api/health");
    expect(h.status, h.body).toBe(200);
    expect(JSON.parse(h.body)).toMatchObject({
      status: "healthy",
      version: "v1",
      checks: { database: "ok", redis: "ok" },
    });
    const { stdout } = await exec("docker", [
      "volume",
      "ls",
      "-q",
      "--filter",
      `label=slipway.project=${PROJECT}`,
    ]);
    expect(stdout).toContain("postgres-data");
    expect(stdout).toContain("redis-data");
  }, 240_000);

  it("slipway.yaml over it: migrations run before traffic moves; migrate status, down --to 5, up", async () => {
    const d = await slipway(["deploy", "development", "--version", "v2"]);
    expect(d.code, d.out).toBe(0);
    expect(d.out).toMatch(/✔ migrate agent-api up/);
    const applied = async () =>
      (await sql<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).map(
        (r) => r.version,
      );
    expect(await applied()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(JSON.parse((await get("/api/health")).body)).toMatchObject({ version: "v2" });

    const status = await slipway(["migrate", "development", "status"]);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain("applied 6 task_results");
    // the runbook's `database_migration.py --migrate-down --target=5`
    const down = await slipway(["migrate", "development", "down", "--to", "5"]);
    expect(down.code, down.out).toBe(0);
    expect(down.out).toContain("reverted 6 task_results");
    expect(await applied()).toEqual([1, 2, 3, 4, 5]);
    const pending = await slipway(["migrate", "development", "status"]);
    expect(pending.out).toContain("pending 6 task_results");
    const up = await slipway(["migrate", "development", "up"]);
    expect(up.code, up.out).toBe(0);
    expect(await applied()).toEqual([1, 2, 3, 4, 5, 6]);
  }, 240_000);

  it("a release with more than 50 % errors under load is rolled back by itself (에러율 > 50 %)", async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${apiPort}`,
      path: "/api/status",
      concurrency: 4,
      rate: 60,
      version: (body) => /"version":"([^"]+)"/.exec(body)?.[1],
    });
    try {
      await load.waitFor((s) => s.status === 200);
      const bad = await slipway(["deploy", "development", "--version", "v3"], { AGENT_ERROR_RATE: "0.6" });
      expect(bad.code, bad.out).toBe(1);
      expect(bad.out).toMatch(/error-rate [\d.]+ % > max 50 %/);
      expect(bad.out).toContain("traffic back on the previous instances");
      const after = Date.now();
      const s = await load.waitFor((x) => x.t > after && x.status === 200);
      expect(s.version).toBe("v2");
    } finally {
      await load.stop();
    }
    const hist = await slipway(["--json", "history", "development", "3"]);
    const rev = (JSON.parse(hist.stdout) as { result: { revision: { status: string; reason?: string } }[] })
      .result[0]?.revision;
    expect(rev?.status).toBe("failed");
  }, 240_000);

  it("staging and production render to manifests valid against the Kubernetes schemas", async () => {
    for (const e of ["staging", "production"]) {
      const r = await slipway(["render", e, "agent-api", "--version", "v1"]);
      expect(r.code, r.out).toBe(0);
      const docs = parseAllDocuments(r.stdout).map(
        (x) => x.toJSON() as { apiVersion: string; kind: string; metadata: { name: string }; spec?: unknown },
      );
      for (const m of docs) validateManifest(m);
      expect(docs.map((m) => m.kind).sort()).toEqual(
        ["Deployment", "HorizontalPodAutoscaler", "Ingress", "Job", "Namespace", "Secret", "Service"].sort(),
      );
      const hpa = docs.find((m) => m.kind === "HorizontalPodAutoscaler")?.spec as {
        minReplicas: number;
        maxReplicas: number;
      };
      expect(hpa).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
      // Secrets from the env file are references in the Secret, never values.
      expect(r.stdout).not.toContain("your_secure_password");
      expect(r.stdout).not.toContain("production_secret_key_change_me");
    }
  }, 120_000);

  it("staging deploys on the API server double: Secret from .env.staging, migration Job, 3 replicas, HPA", async () => {
    const d = await slipway(["deploy", "staging", "--only", "agent-api", "--version", "v1"]);
    expect(d.code, d.out).toBe(0);
    // No Slipway proxy on a cluster: the error-rate metric has no data there (README: not covered).
    expect(d.out).toMatch(/bake: error-rate \? \(no data/);
    const deps = double.objects("deployments", "agent-system");
    expect(deps.map((x) => x.metadata?.name)).toEqual(["agent-api-r1"]);
    expect((deps[0]?.spec as { replicas: number }).replicas).toBe(3);
    const secret = double.objects("secrets", "agent-system")[0] as { data: Record<string, string> };
    expect(Buffer.from(secret.data.DATABASE_URL ?? "", "base64").toString()).toBe(
      "postgresql://staging_user:your_secure_password@postgres.staging.svc.cluster.local:5432/agent_system",
    );
    // The migration Job ran before traffic moved (the double completes it: no container runs).
    const jobs = double.objects("jobs", "agent-system");
    expect(JSON.stringify(jobs)).toContain("node /app/migrate.mjs --migrate-up");
    expect(double.objects("horizontalpodautoscalers", "agent-system")).toHaveLength(1);
    const st = await slipway(["--json", "status", "staging"]);
    expect(st.code, st.out).toBe(0);
    expect(st.stdout).toContain("https://api-staging.example.com");
  }, 120_000);

  it("on the double, a crash-looping release fails at once and traffic stays on v1 (롤백 자동 트리거)", async () => {
    // v2's pods crash-loop (its migration Job still succeeds).
    double.behave({ image: "agent-system:v2", job: false }, { crash: true });
    const r = await slipway(["deploy", "staging", "--only", "agent-api", "--version", "v2"]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain("CrashLoopBackOff");
    const svc = double.objects("services", "agent-system").find((s) => s.metadata?.name === "agent-api");
    expect((svc?.spec as { selector: Record<string, string> }).selector["slipway.dev/revision"]).toBe("1");
    const hist = await slipway(["--json", "history", "staging", "2"]);
    expect(hist.code, hist.out).toBe(0);
    expect(hist.stdout).toContain("CrashLoopBackOff");
  }, 120_000);

  it("production is protected: without the typed cluster name nothing is sent (exit 4)", async () => {
    const before = double.requests.length;
    const r = await slipway(["deploy", "production", "--only", "agent-api", "--version", "v1"]);
    expect(r.code, r.out).toBe(4);
    expect(r.out).toContain("--confirm-name");
    expect(double.requests.length).toBe(before);
    expect(double.objects("namespaces").map((n) => n.metadata?.name)).toContain("agent-system");
  }, 60_000);
});
