/**
 * The dashboard at scale (issue 16): 50 environments × 500 revisions each, seeded through the
 * Store API, served by a real daemon (startDaemon in its own process), read by Debian's Chromium.
 *
 * - time to first render of the environments page (navigation start → every environment's
 *   name on screen), goal < 1 s; also when every card has its services (a `status` each);
 * - SSE latency from an engine event (published on the daemon's event bus) to the browser's
 *   EventSource handler, p50/p99 over 200 events 10 ms apart, goal p99 < 100 ms;
 * - GET /v1/environments p50/p99 with 20 concurrent viewers (cookie sessions) against the same
 *   JSON from a minimal Hono route (no store, no authentication: what users would pick for a
 *   read-only status page), with the ratio.
 *
 * Run: npm run build && npx tsx bench/dashboard.ts   (ENVS=50 REVS=500 VIEWERS=20 EVENTS=200)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { httpRequest } from "../test/support/http.js";

const ENVS = Number(process.env.ENVS ?? 50);
const REVS = Number(process.env.REVS ?? 500);
const VIEWERS = Number(process.env.VIEWERS ?? 20);
const PER_VIEWER = Number(process.env.PER_VIEWER ?? 50);
const EVENTS = Number(process.env.EVENTS ?? 200);
const RENDERS = Number(process.env.RENDERS ?? 7);
const CHROMIUM = "/usr/bin/chromium";
const PASSWORD = "viewer-password-1";

const envName = (i: number) => ({
  project: `proj${String(Math.floor(i / 5)).padStart(2, "0")}`,
  env: `env${i % 5}`,
});
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

// ---------------------------------------------------------------- child: the daemon
async function daemonMain(home: string): Promise<void> {
  const { createRuntime, silentLogger } = await import("../src/index.js");
  const { startDaemon } = await import("../src/server/daemon.js");
  const engine = await createRuntime({ home, logger: silentLogger });
  const d = await startDaemon({
    home,
    host: "127.0.0.1",
    port: 0,
    engine,
    logger: silentLogger,
    version: "bench",
  });
  process.stdout.write(`ready ${d.url}\n`);
  const bus = engine.slipway("process");
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, project, env, n, gap] = line.split(" ");
    if (cmd !== "emit") continue;
    for (let i = 0; i < Number(n); i++) {
      // The instant the engine hands the event over, on the shared wall clock (sub-ms).
      const t0 = performance.timeOrigin + performance.now();
      bus.publish(project, env, { type: "log", level: "info", message: `bench ${i} ${t0}` });
      await new Promise((r) => setTimeout(r, Number(gap)));
    }
    process.stdout.write("emitted\n");
  }
  await d.close();
}

// ---------------------------------------------------------------- child: the anchor
async function anchorMain(file: string): Promise<void> {
  const { readFileSync } = await import("node:fs");
  const { Hono } = await import("hono");
  const { serve } = await import("@hono/node-server");
  const body = readFileSync(file);
  const app = new Hono();
  app.get("/v1/environments", (c) => c.body(body, 200, { "content-type": "application/json" }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
    process.stdout.write(`ready http://127.0.0.1:${info.port}\n`),
  );
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

// ---------------------------------------------------------------- parent
function child(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ proc: ChildProcess; url: string; lines: AsyncIterator<string> }> {
  const proc = spawn(process.execPath, ["--import", "tsx", import.meta.filename, ...args], {
    env,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return (async () => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`${args[0]} exited before it was ready`);
      if (value.startsWith("ready ")) return { proc, url: value.slice(6), lines };
    }
  })();
}

const agent = new Agent({ keepAlive: true, maxSockets: VIEWERS });
const http = (url: string, method: string, headers: Record<string, string> = {}, body?: string) =>
  httpRequest(url, { agent, method, headers, body });

/**
 * Instances the process driver finds alive (as after a daemon restart: it adopts them): each
 * one's state file names one `sleep` process of ours as its supervisor, so recovery and the
 * 2-second housekeeping keep them instead of reaping them.
 */
function liveInstance(
  home: string,
  shimPid: number,
  shimStartTime: number,
  i: Record<string, unknown>,
): void {
  const dir = join(home, "instances", String(i.project), String(i.env), String(i.id));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, "state.json"),
    JSON.stringify({ ...i, shimPid, shimStartTime, appPid: shimPid, appStartTime: shimStartTime }),
    { mode: 0o600 },
  );
}

async function seed(home: string, sleeper: number): Promise<number> {
  const { startTimeOf } = await import("../src/drivers/process/procfs.js");
  const sleeperStart = startTimeOf(sleeper);
  if (sleeperStart === undefined) throw new Error("the sleep process is gone");
  const { openStore } = await import("../src/store/open.js");
  const { hashPassword } = await import("../src/index.js");
  const store = await openStore({ home });
  const t0 = performance.now();
  for (let e = 0; e < ENVS; e++) {
    const { project, env } = envName(e);
    // A snapshot the size of a small real spec (~2 KB): what every revision row carries.
    const snapshot = {
      project,
      env,
      target: { kind: "process" },
      protect: env === "env4",
      services: Object.fromEntries(
        ["web", "api", "worker"].map((s) => [
          s,
          {
            run: `node ${s}.js`,
            env: Object.fromEntries(Array.from({ length: 10 }, (_, j) => [`VAR_${j}`, `\${SECRET_${j}}`])),
          },
        ]),
      ),
    };
    for (let r = 1; r <= REVS; r++) {
      const status =
        r === REVS ? "deployed" : r % 10 === 0 ? "failed" : r % 17 === 0 ? "rolled-back" : "deployed";
      await store.createRevision({
        ...{ project, env, version: `v${r}`, status, snapshot, services: ["web", "api", "worker"] },
        ...{ actor: "bench", description: `deploy v${r}`, skipChecks: false, facts: {} },
      });
    }
    for (const service of ["web", "api", "worker"]) {
      const inst = {
        ...{ id: `${service}-1`, project, env, service, revision: REVS, version: `v${REVS}` },
        ...{
          slot: "stable" as const,
          index: 0,
          state: "running" as const,
          startedAt: new Date().toISOString(),
          restarts: 0,
        },
      };
      await store.putInstance({ ...inst, pid: sleeper });
      liveInstance(home, sleeper, sleeperStart, inst);
    }
  }
  const at = new Date().toISOString();
  await store.auth.putUser({
    name: "vic",
    role: "viewer",
    grants: {},
    passwordHash: await hashPassword(PASSWORD),
    createdAt: at,
    updatedAt: at,
  });
  await store.close();
  return performance.now() - t0;
}

/** `viewers` loops, each GET `path` `n` times back to back: every latency, and the wall time. */
async function load(url: string, headersOf: (v: number) => Record<string, string>, n: number) {
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: VIEWERS }, async (_, v) => {
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        const r = await http(url, "GET", headersOf(v));
        if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body.slice(0, 200)}`);
        lat.push(performance.now() - s);
      }
    }),
  );
  return { lat, rps: (lat.length / (performance.now() - t0)) * 1000 };
}

async function browserPart(
  url: string,
  cookie: string,
  daemon: { proc: ChildProcess; lines: AsyncIterator<string> },
) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const ctx = await browser.newContext();
    const u = new URL(url);
    await ctx.addCookies([
      {
        name: "slipway_session",
        value: cookie,
        domain: u.hostname,
        path: "/",
        httpOnly: true,
        sameSite: "Strict",
      },
    ]);
    const names = Array.from({ length: ENVS }, (_, i) => `${envName(i).project} / ${envName(i).env}`);
    const first: number[] = [];
    const full: number[] = [];
    const parts: Record<"html" | "script" | "list" | "listAsked" | "session" | "sessionAsked", number>[] = [];
    for (let run = 0; run < RENDERS; run++) {
      const page = await ctx.newPage();
      await page.goto(url + "/", { waitUntil: "commit" });
      // performance.now() in the page counts from its navigation start.
      const t = await page.waitForFunction(
        (want) => {
          const text = document.body?.innerText ?? "";
          return want.every((n) => text.includes(n)) ? performance.now() : false;
        },
        names,
        { polling: "raf", timeout: 30_000 },
      );
      first.push((await t.jsonValue()) as number);
      parts.push(
        await page.evaluate(() => {
          const doc = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
          const res = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
          return {
            html: doc.responseEnd,
            script: res.find((r) => r.name.includes("/assets/"))?.responseEnd ?? NaN,
            list: res.find((r) => r.name.includes("/v1/environments"))?.responseEnd ?? NaN,
            listAsked: res.find((r) => r.name.includes("/v1/environments"))?.requestStart ?? NaN,
            session: res.find((r) => r.name.includes("/v1/session"))?.responseEnd ?? NaN,
            sessionAsked: res.find((r) => r.name.includes("/v1/session"))?.requestStart ?? NaN,
          };
        }),
      );
      const t2 = await page
        .waitForFunction(
          () => {
            const cards = [...document.querySelectorAll(".card")];
            return cards.length > 0 && cards.every((c) => !/…/.test(c.textContent ?? ""))
              ? performance.now()
              : false;
          },
          undefined,
          { polling: "raf", timeout: 60_000 },
        )
        .then((h) => h.jsonValue() as Promise<number>)
        .catch(() => NaN);
      full.push(t2);
      await page.close();
    }

    // SSE: one page listening on GET /v1/events, the daemon publishing EVENTS events.
    const page = await ctx.newPage();
    await page.goto(url + "/");
    // Once the page's own reads (a status per card) are done: the daemon is otherwise idle.
    await page
      .waitForFunction(
        () => [...document.querySelectorAll(".card")].every((c) => !/…/.test(c.textContent ?? "")),
        undefined,
        { timeout: 60_000 },
      )
      .catch(() => {});
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const w = window as unknown as { got: number[] };
          w.got = [];
          const es = new EventSource("/v1/events?project=proj00&env=env0");
          es.addEventListener("ready", () => resolve());
          es.addEventListener("engine", (e) => {
            const now = performance.timeOrigin + performance.now();
            const m = /^bench \d+ ([\d.]+)$/.exec(JSON.parse((e as MessageEvent<string>).data).event.message);
            if (m) w.got.push(now - Number(m[1]));
          });
        }),
    );
    daemon.proc.stdin!.write(`emit proj00 env0 ${EVENTS} 10\n`);
    for (;;) if ((await daemon.lines.next()).value === "emitted") break;
    await page.waitForFunction((n) => (window as unknown as { got: number[] }).got.length >= n, EVENTS, {
      timeout: 30_000,
    });
    const sse = (await page.evaluate(() => (window as unknown as { got: number[] }).got)) as number[];
    return { first, full, parts, sse };
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "slipway-bench-dash-"));
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_HOME: home };
  delete env.SLIPWAY_DATABASE_URL;
  const kids: ChildProcess[] = [];
  try {
    console.log(`Dashboard benchmark — ${new Date().toISOString()} — node ${process.version}`);
    const sleeper = spawn("sleep", ["3600"], { stdio: "ignore" });
    kids.push(sleeper);
    const seeded = await seed(home, sleeper.pid!);
    console.log(
      `seeded ${ENVS} environments × ${REVS} revisions (+3 instances each) in ${(seeded / 1000).toFixed(1)} s`,
    );
    const daemon = await child(["--daemon", home], env);
    kids.push(daemon.proc);
    const cookies: string[] = [];
    for (let v = 0; v < VIEWERS; v++) {
      const r = await http(
        `${daemon.url}/v1/session`,
        "POST",
        { "content-type": "application/json" },
        JSON.stringify({ name: "vic", password: PASSWORD }),
      );
      if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`);
      cookies.push(/slipway_session=([^;]+)/.exec(String(r.headers["set-cookie"]))![1]);
    }
    const list = await http(`${daemon.url}/v1/environments`, "GET", {
      cookie: `slipway_session=${cookies[0]}`,
    });
    const count = (JSON.parse(list.body) as { environments: unknown[] }).environments.length;
    if (count !== ENVS) throw new Error(`the daemon lists ${count} environments, not ${ENVS}`);
    // Still all there after two housekeeping ticks (nothing reaped the seeded instances).
    await new Promise((r) => setTimeout(r, 4500));
    const again = await http(`${daemon.url}/v1/environments`, "GET", {
      cookie: `slipway_session=${cookies[0]}`,
    });
    const still = (JSON.parse(again.body) as { environments: unknown[] }).environments.length;
    if (still !== ENVS)
      throw new Error(`after housekeeping the daemon lists ${still} environments, not ${ENVS}`);
    const jsonFile = join(home, "environments.json");
    writeFileSync(jsonFile, list.body);

    // API under 20 concurrent viewers, then the anchor with the same bytes.
    const headers = (v: number) => ({ cookie: `slipway_session=${cookies[v]}` });
    await load(`${daemon.url}/v1/environments`, headers, 5); // warm-up
    const api = await load(`${daemon.url}/v1/environments`, headers, PER_VIEWER);
    const anchor = await child(["--anchor", jsonFile], env);
    kids.push(anchor.proc);
    await load(`${anchor.url}/v1/environments`, () => ({}), 5);
    const base = await load(`${anchor.url}/v1/environments`, () => ({}), PER_VIEWER);
    anchor.proc.kill("SIGTERM");

    console.log(
      `\nGET /v1/environments (${ENVS} environments, ${(list.body.length / 1024).toFixed(1)} KiB), ${VIEWERS} concurrent viewers × ${PER_VIEWER}`,
    );
    console.log(
      `  slipway daemon   p50 ${ms(pct(api.lat, 50))}  p99 ${ms(pct(api.lat, 99))}  ${api.rps.toFixed(0)} req/s`,
    );
    console.log(
      `  minimal hono     p50 ${ms(pct(base.lat, 50))}  p99 ${ms(pct(base.lat, 99))}  ${base.rps.toFixed(0)} req/s`,
    );
    console.log(
      `  ratio daemon / hono: p50 ${(pct(api.lat, 50) / pct(base.lat, 50)).toFixed(1)}×  p99 ${(pct(api.lat, 99) / pct(base.lat, 99)).toFixed(1)}×`,
    );

    const b = await browserPart(daemon.url, cookies[0], daemon);
    const med = (xs: number[]) => pct(xs, 50);
    console.log(`\nenvironments page in Chromium (${RENDERS} loads, navigation start →)`);
    console.log(
      `  every environment on screen  median ${ms(med(b.first))}  max ${ms(Math.max(...b.first))}  (goal < 1000 ms: ${Math.max(...b.first) < 1000 ? "met" : "NOT met"})`,
    );
    const part = (k: keyof (typeof b.parts)[number]) => ms(med(b.parts.map((x) => x[k])));
    console.log(
      `  of which (medians): page HTML received ${part("html")}, script ${part("script")}, GET /v1/session sent ${part("sessionAsked")} answered ${part("session")}, GET /v1/environments sent ${part("listAsked")} answered ${part("list")}`,
    );
    console.log(
      `  every card with its services median ${ms(med(b.full))}  max ${ms(Math.max(...b.full))}  (a status call per card)`,
    );
    console.log(`\nSSE engine event → browser (${b.sse.length} events, 10 ms apart)`);
    console.log(
      `  p50 ${ms(pct(b.sse, 50))}  p99 ${ms(pct(b.sse, 99))}  max ${ms(Math.max(...b.sse))}  (goal p99 < 100 ms: ${pct(b.sse, 99) < 100 ? "met" : "NOT met"})`,
    );
    const load1 = (await import("node:os"))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(" / ");
    console.log(`\nload average ${load1}`);
  } finally {
    for (const k of kids) k.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--daemon") await daemonMain(process.argv[3]);
else if (process.argv[2] === "--anchor") await anchorMain(process.argv[3]);
else await main();
