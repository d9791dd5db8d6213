/**
 * Process target figures: what the supervisor costs compared with starting a process by hand
 * (`nohup node server.mjs >> app.log 2>&1 &`, what the runbooks do today).
 *
 *   npx tsx bench/process-driver.ts
 *
 * The driver is compiled to a temp dir first so the shim runs as plain `node shim/main.js`, as in
 * a built install (from sources it would start through tsx, which costs ~300 ms more).
 */
import { resolvedService } from "../src/spec/defaults.js";
import { execFileSync, spawn } from "node:child_process";
import ts from "typescript";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { InstanceRequest } from "../src/drivers/driver.js";
import type { ProcessDriver as ProcessDriverType } from "../src/drivers/process/process-driver.js";
import type { ResolvedService } from "../src/spec/resolved.js";

const step = (s: string) => process.stderr.write(`.. ${s}\n`);
const root = mkdtempSync(join(tmpdir(), "slipway-bench-proc-"));
const out = join(root, "build");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "package.json"), '{ "type": "module" }');
// Transpile the driver's own files (its other imports are type-only or these two).
for (const f of [
  ...readdirSync("src/drivers/process")
    .filter((n) => n.endsWith(".ts"))
    .map((n) => `drivers/process/${n}`),
  ...readdirSync("src/drivers/process/shim")
    .filter((n) => n.endsWith(".ts"))
    .map((n) => `drivers/process/shim/${n}`),
  "errors.ts",
  "logger.ts",
]) {
  const js = ts.transpileModule(readFileSync(join("src", f), "utf8"), {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
    fileName: f,
  }).outputText;
  mkdirSync(dirname(join(out, f)), { recursive: true });
  writeFileSync(join(out, f.replace(/\.ts$/, ".js")), js);
}
const { ProcessDriver } = (await import(
  pathToFileURL(join(out, "drivers/process/process-driver.js")).href
)) as {
  ProcessDriver: typeof ProcessDriverType;
};
const { groupMembers } = (await import(pathToFileURL(join(out, "drivers/process/procfs.js")).href)) as {
  groupMembers: (pgid: number) => { rssPages: number }[];
};

const app = join(root, "app");
mkdirSync(app);
writeFileSync(
  join(app, "server.mjs"),
  `import http from "node:http";
http.createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");`,
);
const LINES = 200_000;
writeFileSync(
  join(app, "gen.mjs"),
  `const line = "x".repeat(60) + "\\n"; let chunk = "";
for (let i = 0; i < ${LINES}; i++) { chunk += i + " " + line; if (chunk.length > 65536) { process.stdout.write(chunk); chunk = ""; } }
process.stdout.write(chunk + "done\\n");`,
);

const home = join(root, "home");
// Whatever happens, no instance of this bench outlives it.
process.on("exit", () => {
  const base = join(home, "instances", "bench", "b");
  for (const id of existsSync(base) ? readdirSync(base) : []) {
    try {
      const s = JSON.parse(readFileSync(join(base, id, "state.json"), "utf8")) as {
        shimPid: number;
        appPid?: number;
      };
      for (const p of [s.shimPid, ...(s.appPid ? [-s.appPid] : [])]) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
    } catch {
      // no state
    }
  }
  rmSync(root, { recursive: true, force: true });
});
const driver = new ProcessDriver({ home });
const svc = (over: Partial<ResolvedService>): ResolvedService =>
  resolvedService("web", {
    run: "node server.mjs",
    path: app,
    port: 8080,
    stop: { signal: "SIGTERM", grace: 2000 },
    restart: {
      policy: "on-failure",
      backoff: 500,
      maxBackoff: 5000,
      crashLoop: { restarts: 5, within: 60_000, rollbackAfter: 0 },
    },
    rollout: { strategy: "blue-green", steps: [], sticky: false, drainTimeout: 0, keepWarm: 0 },
    retain: 2,
    logs: { maxSize: 50 * 1024 * 1024, maxFiles: 2 },
    ...over,
  });
const web = svc({});
step("prepare");
const artifact = await driver.prepare("bench", "b", web, 1);
step("prepared");
const req = (s: ResolvedService, index = 0): InstanceRequest => ({
  project: "bench",
  env: "b",
  service: s,
  revision: 1,
  version: "v1",
  slot: "stable",
  index,
  env_vars: {},
  artifact,
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => `${ms.toFixed(1).padStart(8)} ms`;
async function reachable(port: number): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).ok) return;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const N = 10;
const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  process.stdout.write(s + "\n");
};

step("start");
// 1. Start to first HTTP 200.
const viaDriver: number[] = [];
const startReturn: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  const inst = await driver.start(req(web));
  startReturn.push(performance.now() - t);
  await reachable(inst.port as number);
  viaDriver.push(performance.now() - t);
  await driver.stop(inst, { signal: "SIGTERM", graceMs: 2000 });
}
const byHand: number[] = [];
for (let i = 0; i < N; i++) {
  const port = await freePort();
  const t = performance.now();
  // detached: the shell and its background job share a new process group, killed as one below.
  const sh = spawn("sh", ["-c", `cd ${artifact.ref} && nohup node server.mjs >> ${root}/hand.log 2>&1 &`], {
    env: { ...process.env, PORT: String(port) },
    stdio: "ignore",
    detached: true,
  });
  await reachable(port);
  byHand.push(performance.now() - t);
  process.kill(-(sh.pid as number), "SIGKILL");
}

step("logs");
// 2. Log throughput: LINES lines of ~70 bytes through the shim vs a shell redirection.
const gen = svc({ name: "gen", run: "node gen.mjs", port: undefined });
let t = performance.now();
const g = await driver.start(req(gen));
const logFile = join(home, "instances", "bench", "b", g.id, "logs", "app.log");
for (;;) {
  const st = (await driver.inspect("bench", "b")).find((i) => i.id === g.id);
  if (st?.state === "exited" && readFileSync(logFile, "utf8").includes(" stdout done\n")) break;
  await new Promise((r) => setTimeout(r, 10));
}
const shimLogMs = performance.now() - t;
const shimLogBytes = statSync(logFile).size;
await driver.stop(g, { signal: "SIGTERM", graceMs: 1000 });
t = performance.now();
execFileSync("sh", ["-c", `cd ${artifact.ref} && node gen.mjs > ${root}/gen-hand.log 2>&1`]);
const handLogMs = performance.now() - t;

step("ten");
// 3. Supervisor memory and 4. inspect() with 10 live instances (what a restarted daemon adopts).
const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => driver.start(req(web, i))));
await Promise.all(ten.map((i) => reachable(i.port as number)));
const shimRss = ten.map((i) => groupMembers(i.pid as number).reduce((a, p) => a + p.rssPages * 4096, 0));
const appRss = ten.map((i) => groupMembers(i.appPid as number).reduce((a, p) => a + p.rssPages * 4096, 0));
const inspectMs: number[] = [];
for (let i = 0; i < 20; i++) {
  const fresh = new ProcessDriver({ home });
  const t0 = performance.now();
  const got = await fresh.inspect("bench", "b");
  inspectMs.push(performance.now() - t0);
  if (got.length !== 10) throw new Error(`inspect found ${got.length} instances, expected 10`);
}
await Promise.all(ten.map((i) => driver.stop(i, { signal: "SIGTERM", graceMs: 2000 })));

say(`Process target (${N} runs each, median)`);
say(`  start() returns (shim up, app spawned)             ${fmt(median(startReturn))}`);
say(`  start() → first HTTP 200 on $PORT                 ${fmt(median(viaDriver))}`);
say(`  baseline: nohup node server.mjs & → first 200      ${fmt(median(byHand))}`);
say(
  `  log ${LINES} lines (${(shimLogBytes / 1e6).toFixed(1)} MB) through the shim, to last line on disk ${fmt(shimLogMs)}`,
);
say(`  baseline: same app, shell redirection to a file    ${fmt(handLogMs)}`);
say(
  `  shim resident memory, median of 10                 ${(median(shimRss) / 1e6).toFixed(1).padStart(8)} MB`,
);
say(
  `  (the app it supervises: node http server)          ${(median(appRss) / 1e6).toFixed(1).padStart(8)} MB`,
);
say(`  inspect() adopting 10 live instances, fresh driver ${fmt(median(inspectMs))}`);
