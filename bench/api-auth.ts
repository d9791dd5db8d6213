/**
 * What the daemon's new doors cost: the same light operation (`lock`, read) over the local unix
 * socket (owner = admin, no credential) and over loopback TCP with a bearer token (SHA-256 lookup
 * in the store, role check, zod validation) — against the unauthenticated GET /v1/health over TCP
 * (what an API without authentication would cost: the Argo Rollouts dashboard's case).
 * Also a login (scrypt). Run: npx tsx bench/api-auth.ts  (after npm run build)
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const BIN = resolve(import.meta.dirname, "..", "bin", "slipway.js");
const N = Number(process.env.N ?? 300);
const home = mkdtempSync(join(tmpdir(), "slipway-bench-auth-"));
const env = { ...process.env, SLIPWAY_HOME: home };
const ref = { project: "bench", env: "development", target: { kind: "process" } };
const body = JSON.stringify({
  resolution: { spec: ref, snapshot: ref, secrets: {}, vars: {}, light: true },
  args: {},
});

function call(o: {
  socketPath?: string;
  url?: string;
  path: string;
  method: string;
  headers?: Record<string, string>;
  data?: string;
}): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const req = request(
      o.socketPath ? `http://localhost${o.path}` : `${o.url}${o.path}`,
      {
        method: o.method,
        socketPath: o.socketPath,
        agent: false,
        headers: { ...(o.data ? { "content-type": "application/json" } : {}), ...o.headers },
      },
      (r) => {
        r.resume();
        r.on("end", () =>
          r.statusCode === 200 ? res(performance.now() - t0) : rej(new Error(`status ${r.statusCode}`)),
        );
      },
    );
    req.on("error", rej);
    req.end(o.data);
  });
}

async function series(
  name: string,
  fn: () => Promise<number>,
  n = N,
): Promise<{ name: string; p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await fn(); // warm up
  const t: number[] = [];
  for (let i = 0; i < n; i++) t.push(await fn());
  t.sort((a, b) => a - b);
  return { name, p50: t[Math.floor(n / 2)], p99: t[Math.min(n - 1, Math.floor(n * 0.99))] };
}

const daemon = spawn(process.execPath, [BIN, "serve", "--port", "0"], { env, stdio: "ignore" });
try {
  let info: { url: string; socket: string } | undefined;
  for (let i = 0; i < 200 && !info; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      info = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8"));
    } catch {
      /* not yet */
    }
  }
  if (!info) throw new Error("the daemon did not start");
  const token = spawnSync(process.execPath, [BIN, "tokens", "create", "bench", "--role", "viewer"], {
    env,
    encoding: "utf8",
  }).stdout.trim();
  const pw = "correct horse battery staple";
  spawnSync(process.execPath, [BIN, "users", "add", "bench", "--role", "viewer", "--password-stdin"], {
    env,
    input: pw,
  });
  const rows = [
    await series("GET /v1/health, TCP, no authentication", () =>
      call({ url: info.url, path: "/v1/health", method: "GET" }),
    ),
    await series("POST /v1/ops/lock, unix socket (local admin)", () =>
      call({ socketPath: info.socket, path: "/v1/ops/lock", method: "POST", data: body }),
    ),
    await series("POST /v1/ops/lock, TCP + bearer token (viewer)", () =>
      call({
        url: info.url,
        path: "/v1/ops/lock",
        method: "POST",
        data: body,
        headers: { authorization: `Bearer ${token}` },
      }),
    ),
    await series(
      "POST /v1/session (login, scrypt N=2^15)",
      () =>
        call({
          url: info.url,
          path: "/v1/session",
          method: "POST",
          data: JSON.stringify({ name: "bench", password: pw }),
        }),
      4,
    ),
  ];
  console.log(`${N} sequential requests each (login: 4), ms`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(52)} p50 ${r.p50.toFixed(2).padStart(7)}  p99 ${r.p99.toFixed(2).padStart(7)}`,
    );
  const [health, sock, tcp] = rows;
  console.log(`ratio TCP+token op / unauthenticated health (p50): ${(tcp.p50 / health.p50).toFixed(2)}x`);
  console.log(`ratio TCP+token op / unix-socket op (p50):         ${(tcp.p50 / sock.p50).toFixed(2)}x`);
} finally {
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon.once("exit", r));
  rmSync(home, { recursive: true, force: true });
}
