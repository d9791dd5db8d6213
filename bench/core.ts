/**
 * Issue 2 benchmark.
 * 1. `slipway status --json` against a running daemon: median of 20 runs (goal ≤ 250 ms), beside
 *    a bare `node -e ""` start (the floor every Node CLI pays; NODE_EXTRA_CA_CERTS adds ~50 ms here).
 * 2. Time from `slipway deploy` to all-healthy for the quickstart (3 services), compared with
 *    starting the same three processes by hand and polling until they answer.
 * Run: npm run build && npx tsx bench/core.ts
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "slipway.js");
const work = mkdtempSync(join(tmpdir(), "slipway-bench-"));
const home = join(work, "home");
cpSync(join(ROOT, "examples", "quickstart"), join(work, "qs"), { recursive: true });
const file = join(work, "qs", "slipway.yaml");
const env: NodeJS.ProcessEnv = {
  ...process.env,
  SLIPWAY_HOME: home,
  NO_COLOR: "1",
  // The quickstart's public ports default to 8080/8081; a shared machine gets ephemeral ones.
  WEB_PORT: String(await freePort()),
  API_PORT: String(await freePort()),
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn: () => void) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, "-f", file, ...args], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`slipway ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
};
/** An ephemeral port the kernel hands out (never a fixed one: the machine is shared). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => res(port));
    });
  });
}
async function answers(url: string) {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(500) })).ok;
  } catch {
    return false;
  }
}

try {
  // --- deploy to all healthy -------------------------------------------------------------
  const REDEPLOYS = 5; // odd, so the median is one of the runs
  const deployRuns: number[] = [];
  for (let i = 0; i < 1 + REDEPLOYS; i++) {
    const t0 = performance.now();
    cli("deploy", "development", "--version", `b${i}`);
    deployRuns.push(performance.now() - t0);
  }
  const firstDeploy = deployRuns[0];
  const redeploy = median(deployRuns.slice(1));

  // --- status against the running daemon --------------------------------------------------
  cli("status", "development", "--json"); // warm
  const status = median(Array.from({ length: 20 }, () => time(() => cli("status", "development", "--json"))));
  const statusNoProbe = median(
    Array.from({ length: 20 }, () => time(() => cli("status", "development", "--json", "--no-probe"))),
  );
  const bare = median(Array.from({ length: 20 }, () => time(() => spawnSync(process.execPath, ["-e", ""]))));
  cli("destroy", "development");

  // --- the same three processes by hand -----------------------------------------------------
  const byHand: number[] = [];
  const [webPort, apiPort] = [await freePort(), await freePort()];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const procs: ChildProcess[] = [
      spawn(process.execPath, ["server.js"], {
        cwd: join(work, "qs", "api"),
        env: { ...env, PORT: String(apiPort) },
        stdio: "ignore",
      }),
      spawn(process.execPath, ["server.js"], {
        cwd: join(work, "qs", "web"),
        env: { ...env, PORT: String(webPort), API_URL: `http://127.0.0.1:${apiPort}` },
        stdio: "ignore",
      }),
      spawn(process.execPath, ["worker.js"], {
        cwd: join(work, "qs", "worker"),
        env: { ...env, API_URL: `http://127.0.0.1:${apiPort}` },
        stdio: "ignore",
      }),
    ];
    while (
      !(await answers(`http://127.0.0.1:${apiPort}/health`)) ||
      !(await answers(`http://127.0.0.1:${webPort}/health`))
    )
      await new Promise((r) => setTimeout(r, 20));
    byHand.push(performance.now() - t0);
    for (const p of procs) p.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
  }
  const hand = median(byHand);

  const f = (ms: number) => `${ms.toFixed(0)} ms`;
  console.log("Slipway core benchmark (2 cores, shared; NODE_EXTRA_CA_CERTS adds ~50 ms per Node start)");
  console.log(`status --json via daemon, median of 20:        ${f(status)}  (goal ≤ 250 ms)`);
  console.log(`status --json --no-probe, median of 20:        ${f(statusNoProbe)}`);
  console.log(`bare \`node -e ""\` start, median of 20:         ${f(bare)}  (floor for any Node CLI)`);
  console.log(
    `deploy quickstart to all-healthy, first run:    ${f(firstDeploy)}  (includes the daemon and proxy start)`,
  );
  console.log(`redeploy quickstart (blue-green), median of ${REDEPLOYS}:  ${f(redeploy)}`);
  console.log(`same 3 processes started by hand until healthy: ${f(hand)}`);
  console.log(`ratio redeploy / by hand:                       ${(redeploy / hand).toFixed(1)}x`);
} finally {
  spawnSync(process.execPath, [BIN, "-f", file, "destroy", "development", "--in-process"], { env });
  try {
    const info = JSON.parse(spawnSync("cat", [join(home, "daemon.json")], { encoding: "utf8" }).stdout);
    process.kill(info.pid, "SIGTERM");
  } catch {
    /* not running */
  }
  try {
    process.kill(
      Number(spawnSync("cat", [join(home, "proxy", "proxy.pid")], { encoding: "utf8" }).stdout),
      "SIGTERM",
    );
  } catch {
    /* not running */
  }
  rmSync(work, { recursive: true, force: true });
}
