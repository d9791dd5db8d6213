// Stand-ins for the services of the GPU inference stack (runbook 000). ROLE picks which one:
// llm, vector-db, training, api, chat, auth, search (Elasticsearch), mariadb (a stateful store).
// Each answers /health and a Prometheus-style /metrics like the real one would; the api answers
// 500 to every Nth request when API_ERROR_RATE is set (0.05 → every 20th), so error rates are exact.
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const role = process.env.ROLE || "api";
const version = process.env.SLIPWAY_VERSION || "dev"; // the release label Slipway injects
const port = Number(process.env.PORT || 3000);
const rate = Number(process.env.API_ERROR_RATE || 0);
const every = rate > 0 ? Math.round(1 / rate) : 0;
let requests = 0;
let errors = 0;

// mariadb stand-in: a key-value store kept in its volume (DATA_DIR), so data outlives containers.
const dataDir = process.env.DATA_DIR || "/var/lib/mysql";
const dataFile = `${dataDir}/data.json`;
function load() {
  try {
    return JSON.parse(readFileSync(dataFile, "utf8"));
  } catch {
    return { boots: 0, rows: {} };
  }
}
let db = undefined;
if (role === "mariadb") {
  mkdirSync(dataDir, { recursive: true });
  db = load();
  db.boots++;
  writeFileSync(dataFile, JSON.stringify(db));
}

function answer(req, res) {
  if (req.url === "/health") return res.end("ok");
  if (req.url === "/metrics") {
    res.setHeader("content-type", "text/plain; version=0.0.4");
    return res.end(
      `app_requests_total{role="${role}",version="${version}"} ${requests}\n` +
        `app_errors_total{role="${role}",version="${version}"} ${errors}\n`,
    );
  }
  requests++;
  if (role === "mariadb" && req.url.startsWith("/rows/")) {
    const key = decodeURIComponent(req.url.slice(6));
    if (req.method === "PUT") {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        db.rows[key] = body;
        writeFileSync(dataFile, JSON.stringify(db));
        res.end("stored");
      });
      return;
    }
    if (!(key in db.rows)) res.writeHead(404);
    return res.end(db.rows[key] ?? "not found");
  }
  if (every && requests % every === 0) {
    errors++;
    res.writeHead(500);
    return res.end(`error ${role} ${version}`);
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ role, version, ...(db ? { boots: db.boots } : {}) }));
}

if (role === "training") {
  // A batch worker: no port, it only ticks (the real one trains on GPU 2).
  setInterval(() => requests++, 1000);
} else {
  const srv = createServer(answer);
  srv.keepAliveTimeout = 30000;
  srv.listen(port, "0.0.0.0");
  process.on("SIGTERM", () => srv.close());
}
process.on("SIGTERM", () => setTimeout(() => process.exit(0), 50));
