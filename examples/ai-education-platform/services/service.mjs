// Stand-ins for the six services of the AI education platform (runbook 003): ROLE is gateway,
// lesson-plan-ai, content-gen-ai, assessment-ai, teaching-agent or streaming-ai. No model, no
// OpenAI call: each answers /health, a Prometheus /metrics with the series the runbook's Grafana
// dashboard reads (http_request_duration_seconds, openai_api_calls_total, signalr_connections_total),
// and a JSON body. The gateway forwards /api/<service>/… to the others over the project network.
//
// Load on demand, to see the runbook's alert rules fire (CPU > 80 %, memory > 85 %) and resolve:
//   POST /stress/cpu     a worker thread spins until /stress/stop (the event loop keeps answering)
//   POST /stress/memory  allocates until the container uses ?ratio= (default 0.9) of its memory limit
//   POST /stress/stop    ends both and frees the memory
import { createServer, request } from "node:http";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

const role = process.env.ROLE || "gateway";
const version = process.env.SLIPWAY_VERSION || "dev"; // the release label Slipway injects
const port = Number(process.env.PORT || 8000);
const SERVICES = ["lesson-plan-ai", "content-gen-ai", "assessment-ai", "teaching-agent", "streaming-ai"];
const buckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const hist = new Array(buckets.length).fill(0);
let requests = 0;
let durationSum = 0;
let openaiCalls = 0;
let connections = 0;

// Secrets arrive as files (Slipway's `secrets: { as: files }`, the Key Vault of the runbook) or
// as environment variables.
function setting(name) {
  try {
    return readFileSync(`/run/secrets/${name}`, "utf8");
  } catch {
    return process.env[name];
  }
}

function redisPing() {
  const url = setting("REDIS_URL");
  if (!url) return Promise.resolve("not configured");
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port || 6379), u.hostname);
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done("timeout"));
    s.on("error", (e) => done(e.code || "error"));
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => done(String(d).startsWith("+PONG") ? "ok" : String(d).trim()));
  });
}

// --- load on demand -------------------------------------------------------------------------
let spinner;
let ballast = [];
function cgroupMemory() {
  const read = (f) => {
    try {
      return readFileSync(f, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const stat = (text, key) => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(text ?? "")?.[1] ?? 0);
  // cgroup v2, then v1; usage minus inactive page cache, as `docker stats` reports it.
  const v2 = read("/sys/fs/cgroup/memory.max");
  if (v2 !== undefined) {
    const s = read("/sys/fs/cgroup/memory.stat");
    const limit = v2 === "max" ? undefined : Number(v2);
    return {
      limit,
      used: Number(read("/sys/fs/cgroup/memory.current") ?? 0) - stat(s, "inactive_file"),
      anon: stat(s, "anon"),
    };
  }
  const v1 = read("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  const s = read("/sys/fs/cgroup/memory/memory.stat");
  const limit = v1 === undefined || Number(v1) > 2 ** 60 ? undefined : Number(v1);
  const used =
    Number(read("/sys/fs/cgroup/memory/memory.usage_in_bytes") ?? 0) - stat(s, "total_inactive_file");
  return { limit, used, anon: stat(s, "total_rss") };
}
function fillMemory(ratio) {
  const { limit } = cgroupMemory();
  if (!limit) return { error: "no memory limit on this container" };
  const chunk = 2 * 2 ** 20;
  // The page cache the kernel evicts under pressure leaves `used`, so the loop could fill on
  // into the OOM killer: the process's own memory stops 20 MiB short of the limit (its code
  // pages need room), which still counts as 84 % with nothing else.
  const full = () => {
    const m = cgroupMemory();
    return m.used >= ratio * limit || m.anon >= limit - 20 * 2 ** 20;
  };
  for (let i = 0; i < 4096 && !full(); i++) {
    const b = Buffer.allocUnsafe(chunk);
    b.fill(i & 0xff); // touch every page so that it is resident
    ballast.push(b);
  }
  const m = cgroupMemory();
  return { limit: m.limit, used: m.used, ratio: m.used / m.limit };
}
function stress(kind, url) {
  if (kind === "cpu") {
    // The spinning thread runs at the lowest priority (nice 19, this thread only), so that the
    // service still answers its health checks at once while it uses all of its CPU limit.
    spinner ??= new Worker(
      `const { readlinkSync } = require("node:fs");
       try { require("node:os").setPriority(Number(readlinkSync("/proc/thread-self").split("/").pop()), 19); } catch {}
       for (;;) {}`,
      { eval: true },
    );
    return { cpu: "spinning" };
  }
  if (kind === "memory") return fillMemory(Number(url.searchParams.get("ratio") || 0.9));
  spinner?.terminate();
  spinner = undefined;
  ballast = [];
  globalThis.gc?.();
  return { stopped: true };
}

// --- requests -------------------------------------------------------------------------------
function forward(req, res, target, rest) {
  const up = request({ host: target, port: 8000, path: rest || "/", method: req.method }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on("error", (e) => {
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: `${target}: ${e.message}` }));
  });
  req.pipe(up);
}

async function answer(req, res, url) {
  if (url.pathname === "/health") return res.end("ok");
  if (url.pathname === "/metrics") {
    res.setHeader("content-type", "text/plain; version=0.0.4");
    const l = `service="${role}",version="${version}"`;
    let cum = 0;
    const lines = buckets.map((b, i) => {
      cum += hist[i];
      return `http_request_duration_seconds_bucket{${l},le="${b}"} ${cum}`;
    });
    return res.end(
      [
        ...lines,
        `http_request_duration_seconds_bucket{${l},le="+Inf"} ${requests}`,
        `http_request_duration_seconds_sum{${l}} ${durationSum}`,
        `http_request_duration_seconds_count{${l}} ${requests}`,
        `openai_api_calls_total{${l}} ${openaiCalls}`,
        `signalr_connections_total{${l}} ${connections}`,
        "",
      ].join("\n"),
    );
  }
  if (url.pathname.startsWith("/stress/") && req.method === "POST") {
    res.setHeader("content-type", "application/json");
    return res.end(JSON.stringify({ role, ...stress(url.pathname.slice(8), url) }));
  }
  const api = /^\/api\/([a-z-]+)(\/.*)?$/.exec(url.pathname);
  if (role === "gateway" && api && SERVICES.includes(api[1])) return forward(req, res, api[1], api[2]);
  if (role === "streaming-ai") connections++;
  else if (role !== "gateway") openaiCalls++; // the real services call OpenAI here
  res.setHeader("content-type", "application/json");
  res.end(
    JSON.stringify({
      role,
      version,
      environment: setting("ENVIRONMENT"),
      resourceGroup: setting("AZURE_RESOURCE_GROUP"),
      registry: setting("ACR_LOGIN_SERVER"),
      redis: await redisPing(),
      openaiKey: setting("OPENAI_API_KEY") ? "set" : "missing",
      database: setting("POSTGRES_URL") ? "set" : "missing",
    }),
  );
}

const srv = createServer((req, res) => {
  const t0 = process.hrtime.bigint();
  const url = new URL(req.url || "/", "http://x");
  res.on("finish", () => {
    if (url.pathname === "/health" || url.pathname === "/metrics") return;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    requests++;
    durationSum += s;
    const i = buckets.findIndex((b) => s <= b);
    if (i >= 0) hist[i]++;
  });
  answer(req, res, url).catch((e) => {
    res.writeHead(500);
    res.end(String(e));
  });
});
srv.keepAliveTimeout = 30000;
srv.listen(port, "0.0.0.0");
process.on("SIGTERM", () => {
  spinner?.terminate();
  srv.close();
  setTimeout(() => process.exit(0), 50);
});
