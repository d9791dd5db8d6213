// A stand-in for the runbook's Node.js API: plain Node, no dependencies. It listens on $PORT
// (given by Slipway) and answers the runbook's three endpoints:
//   /health          200 when PostgreSQL and Redis answer, 503 otherwise
//   /api/v1/status   version, environment, uptime and what the dependencies answered
//   /api/v1/metrics  memory, CPU and request counters (what the runbook pipes into `jq`)
import { createServer } from "node:http";
import { connect } from "node:net";
import { cpus, freemem, loadavg, totalmem } from "node:os";

const version = process.env.SLIPWAY_VERSION ?? process.env.RELEASE ?? "dev";
const started = Date.now();
let requests = 0;
let errors = 0;

/** host and port of a URL such as postgres://u:p@host:5432/db or redis://host:6379. */
export function endpoint(url, defaultPort) {
  const u = new URL(url);
  return { host: u.hostname || "127.0.0.1", port: Number(u.port || defaultPort), password: u.password };
}

/** One round trip on a fresh TCP connection: connected (and, for Redis, PING answered PONG). */
function probe({ host, port, password }, hello) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok, detail) => {
      s.destroy();
      resolve({ ok, detail });
    };
    s.setTimeout(2000, () => done(false, "timeout"));
    s.on("error", (e) => done(false, e.code ?? String(e)));
    s.on("connect", () => {
      if (!hello) return done(true, "connected");
      s.write(password ? `AUTH ${password}\r\nPING\r\n` : "PING\r\n");
    });
    s.on("data", (d) => {
      const text = d.toString();
      if (text.includes("+PONG")) done(true, "PONG");
      else if (text.startsWith("-")) done(false, text.trim());
    });
  });
}

async function dependencies() {
  const out = {};
  if (process.env.DATABASE_URL) out.database = await probe(endpoint(process.env.DATABASE_URL, 5432), false);
  if (process.env.REDIS_URL) out.redis = await probe(endpoint(process.env.REDIS_URL, 6379), true);
  return out;
}

function metrics() {
  const mem = process.memoryUsage();
  return {
    version,
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    requests,
    errors,
    process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
    host: {
      memoryUsedPercent: Math.round((1 - freemem() / totalmem()) * 1000) / 10,
      cpuLoadPercent: Math.round((loadavg()[0] / cpus().length) * 1000) / 10,
    },
  };
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function createApp() {
  return createServer(async (req, res) => {
    requests++;
    try {
      if (req.url === "/health") {
        const deps = await dependencies();
        const ok = Object.values(deps).every((d) => d.ok);
        if (!ok) errors++;
        return json(res, ok ? 200 : 503, { status: ok ? "ok" : "degraded", version, ...deps });
      }
      if (req.url === "/api/v1/status")
        return json(res, 200, {
          version,
          environment: process.env.NODE_ENV ?? "development",
          uptimeSeconds: Math.round((Date.now() - started) / 1000),
          dependencies: await dependencies(),
        });
      if (req.url === "/api/v1/metrics") return json(res, 200, metrics());
      if (req.url === "/api/v1/ping") return json(res, 200, { pong: true });
      json(res, 404, { error: "not found" });
    } catch (e) {
      errors++;
      json(res, 500, { error: String(e) });
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = createApp();
  server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1", () =>
    console.log(`runbook-api ${version} listening on ${process.env.PORT ?? 3000}`),
  );
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
