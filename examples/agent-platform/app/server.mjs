// Stand-in for the agent system's API server (runbook 001: a Flask app on :5000, Prometheus
// metrics on :8000). No LLM and no agents: POST /api/tasks "runs" a task at once. What matters to
// the deploy is here: /api/health checks PostgreSQL (TCP) and Redis (AUTH + PING) like the real
// health endpoint, /metrics has the runbook's metric names, and three faults make a bad release:
//   AGENT_CRASH=1          exits at start (a crash loop)
//   AGENT_HEALTH=fail      /api/health answers 503 (failed health checks)
//   AGENT_ERROR_RATE=0.6   that share of /api/* requests answer 500 (error rate > 50 %)
import { createServer } from "node:http";
import { connect } from "node:net";

const version = process.env.SLIPWAY_VERSION || process.env.APP_VERSION || "dev";
const port = Number(process.env.PORT || 5000);
const metricsPort = Number(process.env.METRICS_PORT || 8000);
const errorRate = Number(process.env.AGENT_ERROR_RATE || 0);
if (process.env.AGENT_CRASH === "1") {
  console.error(`agent-api ${version}: AGENT_CRASH=1, exiting`);
  process.exit(1);
}

const counters = { requests: new Map(), tasks: 0, completed: 0, failed: 0, inProgress: 0, durationSum: 0 };
let served = 0;

function tcpCheck(url, hello) {
  return new Promise((resolve) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      return resolve("not configured");
    }
    const s = connect({
      host: u.hostname,
      port: Number(u.port) || (u.protocol.startsWith("redis") ? 6379 : 5432),
    });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1500, () => done("timeout"));
    s.on("error", (e) => done(e.code || e.message));
    s.on("connect", () => {
      if (!hello) return done("ok");
      s.write(hello(u));
      s.once("data", (d) => done(/\+PONG/.test(String(d)) ? "ok" : String(d).trim()));
    });
  });
}
const redisPing = (u) => (u.password ? `AUTH ${decodeURIComponent(u.password)}\r\n` : "") + "PING\r\n";

async function health() {
  const [database, redis] = await Promise.all([
    tcpCheck(process.env.DATABASE_URL),
    tcpCheck(process.env.REDIS_URL, redisPing),
  ]);
  const ok = process.env.AGENT_HEALTH !== "fail" && database === "ok" && redis === "ok";
  return { status: ok ? "healthy" : "unhealthy", version, checks: { database, redis } };
}

function metrics() {
  const lines = ["# TYPE http_requests_total counter"];
  for (const [k, v] of counters.requests) lines.push(`http_requests_total{${k}} ${v}`);
  lines.push(
    "# TYPE http_request_duration_seconds summary",
    `http_request_duration_seconds_sum ${counters.durationSum}`,
    `http_request_duration_seconds_count ${served}`,
    `http_requests_in_progress ${counters.inProgress}`,
    `agent_tasks_total ${counters.tasks}`,
    `agent_tasks_completed ${counters.completed}`,
    `agent_tasks_failed ${counters.failed}`,
    `agent_build_info{version="${version}"} 1`,
  );
  return lines.join("\n") + "\n";
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function answer(req, res) {
  const path = (req.url || "/").split("?")[0];
  if (path === "/metrics") return res.end(metrics());
  if (path === "/api/health") {
    const h = await health();
    return json(res, h.status === "healthy" ? 200 : 503, h);
  }
  if (errorRate > 0 && path.startsWith("/api/") && Math.random() < errorRate)
    return json(res, 500, { error: "agent failure (stand-in fault AGENT_ERROR_RATE)", version });
  if (path === "/api/tasks" && req.method === "POST") {
    counters.tasks++;
    counters.completed++;
    return json(res, 201, { id: counters.tasks, status: "completed", version });
  }
  if (path === "/" || path === "/api/status") return json(res, 200, { service: "agent-api", version });
  json(res, 404, { error: "not found" });
}

function count(req, res, t0) {
  const key = `method="${req.method}",status="${res.statusCode}"`;
  counters.requests.set(key, (counters.requests.get(key) || 0) + 1);
  counters.durationSum += (Date.now() - t0) / 1000;
  served++;
}

createServer((req, res) => {
  const t0 = Date.now();
  counters.inProgress++;
  res.on("finish", () => {
    counters.inProgress--;
    count(req, res, t0);
  });
  answer(req, res).catch((e) => json(res, 500, { error: String(e) }));
}).listen(port, () => console.log(`agent-api ${version} listening on :${port}`));

if (metricsPort && metricsPort !== port)
  createServer((req, res) => res.end(metrics())).listen(metricsPort, () =>
    console.log(`agent-api metrics on :${metricsPort}`),
  );
process.on("SIGTERM", () => process.exit(0));
