/**
 * Proxy overhead: the same upstream measured direct, through the Slipway proxy and through
 * nginx (Debian package, 1 worker, keep-alive upstream pool), with wrk, in one run.
 * Goals (issue 14): Slipway ≥ 60 % of nginx's throughput, added p99 ≤ nginx's + 1 ms, CPU per
 * request ≤ 2× nginx's; the same over HTTPS.
 *
 *   npm run build && npx tsx bench/proxy-overhead.ts [--duration 10] [--connections 32] [--workers 1] [--rounds 3]
 *
 * `--workers 2`: nginx runs `worker_processes 2` and the Slipway proxy 2 worker processes
 * (SLIPWAY_PROXY_WORKERS=2: a cluster primary plus 2 workers); CPU is summed over every process
 * of each (nginx master + workers, Slipway primary + workers). `--workers 1`: one process each.
 *
 * Also HTTPS on both (same certificate: EC P-256 from a throw-away CA, TLS 1.3, wrk keeps its
 * connections so this is the steady state, not handshakes), and the host-routed shared listener.
 *
 * The goals' rounds run wrk flat out (a closed loop: each connection sends its next request when
 * the answer arrives), where the p99 mostly says how far the path is from its throughput limit.
 * `--paced F` (default 0.5) adds rounds at a fixed offered load, F × nginx's flat-out rate, the
 * same 32 connections pausing between requests (wrk's `delay()`): the latency each hop adds while
 * it still has headroom. `--paced 0` skips them.
 *
 * The proxy runs from dist/, as `slipway` runs it: started from the sources it would run under
 * tsx's loader, which costs about half as much CPU again per request on this machine.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type * as ProxyClientModule from "../src/proxy/client.js";
import { freePort, waitFor } from "../test/support/ports.js";
import { makeTestCa } from "../test/support/test-ca.js";
import { startNginx } from "./nginx.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    workers: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    paced: { type: "string", default: "0.5" },
  },
});
const rounds = Number(values.rounds);
const workers = Number(values.workers);
const duration = Number(values.duration);
const connections = Number(values.connections);
const paced = Number(values.paced);

const UPSTREAM = `
const http = require("node:http");
const body = Buffer.from("hello from the upstream\\n".repeat(4));
http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
}).listen(Number(process.argv[1]), "127.0.0.1", () => console.log("ready"));
`;

interface Result {
  name: string;
  /** CPU time the proxy process(es) spent per request, µs (robust on a shared machine). */
  cpuUs?: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** utime+stime of the processes, in ms (Linux /proc, 100 ticks per second). */
async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
  }
  return ticks * 10;
}

async function wrk(
  name: string,
  url: string,
  pids: number[] = [],
  conns = connections,
  script?: string,
): Promise<Result> {
  const host = ["-H", "Host: bench.test", ...(script ? ["-s", script] : [])]; // the host routes need it
  await run("wrk", ["-t1", `-c${conns}`, "-d2s", ...host, url]); // warm-up
  const cpu0 = await cpuMs(pids);
  const out = await run("wrk", ["-t1", `-c${conns}`, `-d${duration}s`, "--latency", ...host, url]);
  const cpu = (await cpuMs(pids)) - cpu0;
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { name, rps, p50, p99, errors, cpuUs: pids.length ? (cpu * 1000) / total : undefined };
}

const children: ChildProcess[] = [];
const dir = await mkdtemp(join(tmpdir(), "slipway-bench-proxy-"));
const { ProxyClient } = (await import(
  new URL("../dist/proxy/client.js", import.meta.url).href
)) as typeof ProxyClientModule;
let proxy: InstanceType<typeof ProxyClient> | undefined;
try {
  // Upstream: its own process, so it does not share an event loop with anything measured.
  const upPort = await freePort();
  const upstream = spawn(process.execPath, ["-e", UPSTREAM, String(upPort)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(upstream);
  await new Promise((r) => upstream.stdout!.once("data", r));

  // Slipway proxy: the real process, started the way the daemon starts it.
  const slipPort = await freePort();
  const [slipHostPort, slipTlsPort, ngTlsPort] = [await freePort(), await freePort(), await freePort()];
  const cert = makeTestCa(await mkdtemp(join(dir, "ca-"))).issue("bench", ["bench.test"]);
  proxy = new ProxyClient({ home: join(dir, "home"), workers });
  await proxy.ensureRunning();
  await proxy.setRoute({
    key: "bench/prod/web",
    listen: { host: "127.0.0.1", port: slipPort },
    targets: [{ id: "web-1", slot: "stable", url: `http://127.0.0.1:${upPort}` }],
    candidateWeight: 0,
    sticky: false,
    drainTimeoutMs: 1_000,
    responseTimeoutMs: 30_000,
    edge: {
      domains: ["bench.test"],
      http: { host: "127.0.0.1", port: slipHostPort },
      https: { host: "127.0.0.1", port: slipTlsPort },
      tls: cert,
      redirectHttp: false,
      hstsSeconds: 0,
      proxyProtocol: false,
    },
  });

  // nginx: the reverse proxy a user would pick instead, configured as it is usually run.
  const ngPort = await freePort();
  const nginx = startNginx(join(dir, "nginx"), {
    upstreamPort: upPort,
    workers,
    servers: [{ port: ngPort }, { port: ngTlsPort, tls: cert }],
  });
  children.push(nginx);
  await waitFor(() => fetch(`http://127.0.0.1:${ngPort}/`).then((r) => r.ok), { what: "nginx" });

  const health = (await proxy.health())!;
  const slipPids = [health.pid, ...(health.workers ?? []).map((w) => w.pid)];
  if (slipPids.length !== (workers > 1 ? workers + 1 : 1))
    throw new Error(`the Slipway proxy runs ${slipPids.length} processes, expected ${workers} workers`);
  const ngPids = [
    nginx.pid!,
    ...(await run("pgrep", ["-P", String(nginx.pid)])).split(/\s+/).filter(Boolean).map(Number),
  ];
  const slipName = workers > 1 ? `slipway ${workers} workers` : "slipway proxy";
  const ngName = `nginx ${workers} worker${workers > 1 ? "s" : ""}`;
  const paths: [string, string, number[]][] = [
    ["direct", `http://127.0.0.1:${upPort}/`, []],
    [slipName, `http://127.0.0.1:${slipPort}/`, slipPids],
    [ngName, `http://127.0.0.1:${ngPort}/`, ngPids],
    ["slipway host route", `http://127.0.0.1:${slipHostPort}/`, slipPids],
    ["slipway HTTPS", `https://127.0.0.1:${slipTlsPort}/`, slipPids],
    ["nginx HTTPS", `https://127.0.0.1:${ngTlsPort}/`, ngPids],
  ];
  // Rounds in alternating order (a shared machine's load drifts within minutes); each goal is
  // judged per round, pairing Slipway with the nginx run next to it, and reported as the median.
  const byRound: Map<string, Result>[] = [];
  for (let i = 0; i < rounds; i++) {
    const m = new Map<string, Result>();
    for (const [name, url, pids] of i % 2 ? [...paths].reverse() : paths)
      m.set(name, await wrk(name, url, pids));
    byRound.push(m);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const of = (name: string, f: (r: Result) => number) => med(byRound.map((m) => f(m.get(name)!)));
  console.log(
    `\nwrk -t1 -c${connections} -d${duration}s --latency, small response, same upstream (node http); ` +
      `medians of ${rounds} rounds (alternating order)`,
  );
  console.log("| path | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, , pids] of paths)
    console.log(
      `| ${name} | ${of(name, (r) => r.rps).toFixed(0)} | ${of(name, (r) => r.p50).toFixed(2)} | ${of(name, (r) => r.p99).toFixed(2)} | ` +
        `${byRound.reduce((a, m) => a + m.get(name)!.errors, 0)} | ${pids.length ? of(name, (r) => r.cpuUs ?? 0).toFixed(0) : "–"} |`,
    );
  const pair = (a: string, b: string) => ({
    tput: byRound.map((m) => m.get(a)!.rps / m.get(b)!.rps),
    p99: byRound.map((m) => m.get(a)!.p99 - m.get(b)!.p99), // both "added over direct": direct cancels
    cpu: byRound.map((m) => (m.get(a)!.cpuUs ?? 0) / (m.get(b)!.cpuUs ?? 1)),
  });
  const plain = pair(slipName, ngName);
  const tls = pair("slipway HTTPS", "nginx HTTPS");
  const host = byRound.map((m) => m.get("slipway host route")!.rps / m.get(slipName)!.rps);
  const mark = (ok: boolean) => (ok ? "✔" : "✖");
  const list = (xs: number[], f: (x: number) => string) => `(rounds: ${xs.map(f).join(", ")})`;
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const times = (x: number) => `${x.toFixed(1)}×`;
  const goals = (label: string, g: ReturnType<typeof pair>) =>
    `\n${label} / nginx throughput: ${pct(med(g.tput))} (goal ≥ 60 %) ${mark(med(g.tput) >= 0.6)} ${list(g.tput, pct)}` +
    `\n${label} added p99 over nginx's: ${ms(med(g.p99))} (goal ≤ 1 ms) ${mark(med(g.p99) <= 1)} ${list(g.p99, ms)}` +
    `\n${label} CPU per request / nginx's: ${times(med(g.cpu))} (goal ≤ 2×) ${mark(med(g.cpu) <= 2)} ${list(g.cpu, times)}`;
  console.log(
    goals(slipName, plain) +
      goals("slipway HTTPS", tls) +
      `\nhost route / port route throughput: ${pct(med(host))}`,
  );

  if (paced > 0) {
    // Fixed offered load: each connection waits `gap` ms between an answer and its next request.
    const rate = paced * of(ngName, (r) => r.rps);
    const gap = Math.max(1, Math.round((connections * 1000) / rate));
    const script = join(dir, "paced.lua");
    await writeFile(script, `function delay() return ${gap} end\n`);
    const pacedPaths = paths.filter(([name]) => name !== "slipway host route");
    const pacedRounds: Map<string, Result>[] = [];
    for (let i = 0; i < rounds; i++) {
      const m = new Map<string, Result>();
      for (const [name, url, pids] of i % 2 ? [...pacedPaths].reverse() : pacedPaths)
        m.set(name, await wrk(name, url, pids, connections, script));
      pacedRounds.push(m);
    }
    const at = (name: string, f: (r: Result) => number) => med(pacedRounds.map((m) => f(m.get(name)!)));
    console.log(
      `\npaced: wrk -t1 -c${connections} with ${gap} ms between an answer and the next request ` +
        `(aimed at ${pct(paced)} of nginx's flat-out rate; whole ms and each answer's own time make it ` +
        `${pct(at(ngName, (r) => r.rps) / of(ngName, (r) => r.rps))} for nginx); medians of ${rounds} rounds`,
    );
    console.log("| path | req/s | p50 ms | p99 ms | added p99 ms | errors | proxy CPU µs/req |");
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const [name, , pids] of pacedPaths)
      console.log(
        `| ${name} | ${at(name, (r) => r.rps).toFixed(0)} | ${at(name, (r) => r.p50).toFixed(2)} | ` +
          `${at(name, (r) => r.p99).toFixed(2)} | ${med(pacedRounds.map((m) => m.get(name)!.p99 - m.get("direct")!.p99)).toFixed(2)} | ` +
          `${pacedRounds.reduce((a, m) => a + m.get(name)!.errors, 0)} | ` +
          `${pids.length ? at(name, (r) => r.cpuUs ?? 0).toFixed(0) : "–"} |`,
      );
    const addedOver = (a: string, b: string) => pacedRounds.map((m) => m.get(a)!.p99 - m.get(b)!.p99);
    for (const [label, a, b] of [
      [slipName, slipName, ngName],
      ["slipway HTTPS", "slipway HTTPS", "nginx HTTPS"],
    ]) {
      const d = addedOver(a, b);
      console.log(
        `${label} added p99 over nginx's at this load: ${ms(med(d))} (the goal's ≤ 1 ms, paced) ` +
          `${mark(med(d) <= 1)} ${list(d, ms)}`,
      );
    }
  }

  // One connection: the latency a single client sees, without queueing behind the load.
  const light = [
    await wrk("direct", `http://127.0.0.1:${upPort}/`, [], 1),
    await wrk(slipName, `http://127.0.0.1:${slipPort}/`, slipPids, 1),
    await wrk(ngName, `http://127.0.0.1:${ngPort}/`, ngPids, 1),
  ];
  console.log(`\nwrk -t1 -c1 -d${duration}s --latency`);
  console.log("| path | req/s | p50 ms | p99 ms | added p99 ms |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of light)
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p99 - light[0].p99).toFixed(2)} |`,
    );
} finally {
  await proxy?.stop(5_000).catch(() => false);
  for (const c of children) c.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
}
