/**
 * Issue 5 (first half) benchmark: pre-flight checks and health probes.
 * 1. The seed-002 pre-deploy checklist (PostgreSQL, Redis, HTTP, TCP, TLS file, disk/memory/CPU,
 *    env file) through runChecks, median of 15 runs, beside the same list as the bash script the
 *    guides write (psql, redis-cli, curl, /dev/tcp, openssl x509 -checkend, df, free, grep).
 * 2. One probe of each kind, median of 100, beside the command a Docker HEALTHCHECK would run
 *    (curl -fsS, pg_isready / psql, redis-cli ping).
 * 3. Detection delay: an app turns ready at a random moment; time until waitHealthy reports it
 *    (interval 500ms), beside Docker's default HEALTHCHECK interval (30s).
 * Run: npx tsx bench/checks.ts
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { runChecks } from "../src/checks/runner.js";
import { createProbe } from "../src/health/create.js";
import type { Probe } from "../src/health/probe.js";
import { waitHealthy } from "../src/health/wait.js";
import { checkSchema } from "../src/spec/schema-checks.js";
import { healthSchema } from "../src/spec/schema.js";
import { startPostgres } from "../test/support/postgres.js";
import { startRedis } from "../test/support/redis.js";

/** Async, so the servers in this process keep answering while the baseline runs. */
function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs: number[]) => Math.max(...xs);
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const row = (label: string, value: string) => console.log(`  ${label.padEnd(66)} ${value}`);

const dir = mkdtempSync(join(tmpdir(), "slipway-bench-checks-"));
const pg = await startPostgres();
const redis = await startRedis({ password: "bench-pass-123" });
const http = createServer((req, res) => res.writeHead(req.url === "/health" ? 200 : 404).end("ok"));
await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
const httpPort = (http.address() as { port: number }).port;
const tcp = createTcpServer((s) => s.end());
await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", () => r()));
const tcpPort = (tcp.address() as { port: number }).port;

try {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "k.pem"),
      "-out",
      join(dir, "cert.pem"),
    ].concat(["-days", "90", "-subj", "/CN=bench.example.test"]),
    { stdio: "ignore" },
  );
  writeFileSync(join(dir, ".env.production"), `DATABASE_URL=${pg.url}\nJWT_SECRET=${"s".repeat(64)}\n`);
  chmodSync(join(dir, ".env.production"), 0o600);

  const checks = z.array(checkSchema).parse([
    { postgres: pg.url },
    { redis: redis.url },
    { http: `http://127.0.0.1:${httpPort}/health` },
    { tcp: `127.0.0.1:${tcpPort}` },
    { tls: { file: "cert.pem", minDays: 14 } },
    { resources: { disk: { max: "99%" }, memory: { max: "99%" } } },
    {
      env: {
        required: ["DATABASE_URL", "JWT_SECRET"],
        minLength: { JWT_SECRET: 64 },
        files: ".env.production",
      },
    },
  ]);
  const ctx = { cwd: dir, vars: {} };
  await runChecks(checks, ctx); // warm
  const slip: number[] = [];
  let statuses = "";
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    const r = await runChecks(checks, ctx);
    slip.push(performance.now() - t);
    statuses = r.map((x) => x.status[0]).join("");
  }
  const script = `set -e
cd ${dir}
psql "${pg.url}" -Atc 'select 1' >/dev/null
redis-cli -h 127.0.0.1 -p ${redis.port} -a bench-pass-123 --no-auth-warning ping | grep -q PONG
curl -fsS -o /dev/null http://127.0.0.1:${httpPort}/health
(exec 3<>/dev/tcp/127.0.0.1/${tcpPort}) 2>/dev/null
openssl x509 -checkend $((14*86400)) -noout -in cert.pem >/dev/null
[ "$(df --output=pcent . | tail -1 | tr -dc 0-9)" -lt 99 ]
free | awk '/Mem:/ { exit ($3/$2 > 0.99) }'
[ "$(stat -c %a .env.production)" = 600 ]
! grep -qiE 'change_?this|changeme|your-' .env.production
[ "$(grep '^JWT_SECRET=' .env.production | cut -d= -f2- | wc -c)" -gt 64 ]`;
  const bash: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    const r = await run("bash", ["-c", script]);
    bash.push(performance.now() - t);
    if (r.code !== 0) throw new Error(`the bash checklist failed: ${r.stderr.slice(-600)}`);
  }

  const target = { host: "127.0.0.1", port: httpPort, cwd: dir };
  const probeTime = async (p: Probe, n = 100) => {
    await p.check(target, { timeoutMs: 2000 });
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await p.check(target, { timeoutMs: 2000 });
      xs.push(performance.now() - t);
      if (!r.ok) throw new Error(r.message);
    }
    return median(xs);
  };
  const cmdTime = async (cmd: string, args: string[], n = 30) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await run(cmd, args);
      xs.push(performance.now() - t);
      if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    }
    return median(xs);
  };
  const probes = {
    http: await probeTime(createProbe(healthSchema.parse({ http: "/health" }))),
    tcp: await probeTime(createProbe(healthSchema.parse({ tcp: true }))),
    exec: await probeTime(createProbe(healthSchema.parse({ exec: "true" })), 30),
    postgres: await probeTime(createProbe(healthSchema.parse({ postgres: pg.url }))),
    redis: await probeTime(createProbe(healthSchema.parse({ redis: redis.url }))),
  };
  const baselines = {
    curl: await cmdTime("curl", ["-fsS", "-o", "/dev/null", `http://127.0.0.1:${httpPort}/health`]),
    pgIsready: await cmdTime("pg_isready", ["-d", pg.url, "-q"]),
    psql: await cmdTime("psql", [pg.url, "-Atc", "select 1"]),
    redisCli: await cmdTime("redis-cli", [
      "-h",
      "127.0.0.1",
      "-p",
      String(redis.port),
      "-a",
      "bench-pass-123",
      "--no-auth-warning",
      "ping",
    ]),
  };

  let readyAt = Infinity;
  const app = createServer((_q, res) => res.writeHead(performance.now() >= readyAt ? 200 : 503).end());
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
  const appPort = (app.address() as { port: number }).port;
  const health = healthSchema.parse({ http: "/", interval: "500ms", startTimeout: "30s" });
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    readyAt = performance.now() + 300 + Math.random() * 1000;
    await waitHealthy(createProbe(health), { host: "127.0.0.1", port: appPort }, health);
    delays.push(performance.now() - readyAt);
  }
  app.close();

  console.log(
    `Pre-flight checks and health probes · node ${process.version} · 2 cores, shared, NODE_EXTRA_CA_CERTS set`,
  );
  console.log(
    "\n1. Checklist of 7 (postgres, redis, http, tcp, tls file, disk+memory, env file), median of 15",
  );
  row(`slipway runChecks (statuses ${statuses})`, ms(median(slip)));
  row("bash script: psql, redis-cli, curl, /dev/tcp, openssl, df, free, grep", ms(median(bash)));
  console.log("\n2. One probe, median (slipway: in-process; baseline: the HEALTHCHECK command)");
  row("http probe (fresh connection)", ms(probes.http));
  row("  curl -fsS", ms(baselines.curl));
  row("tcp probe", ms(probes.tcp));
  row("exec probe (`true` via /bin/sh)", ms(probes.exec));
  row("postgres probe (connect + select 1 + show server_version)", ms(probes.postgres));
  row("  pg_isready (no authentication, no query)", ms(baselines.pgIsready));
  row("  psql -c 'select 1'", ms(baselines.psql));
  row("redis probe (AUTH + PING)", ms(probes.redis));
  row("  redis-cli ping", ms(baselines.redisCli));
  console.log("\n3. Ready → reported healthy, interval 500ms, 10 runs");
  row("waitHealthy delay median / max", `${ms(median(delays))} / ${ms(max(delays))}`);
  row("bound: interval + one probe", "≤ ~500 ms");
  row("Docker HEALTHCHECK defaults (interval 30s): documented bound", "≤ 30000 ms");
} finally {
  http.close();
  tcp.close();
  await redis.stop();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
