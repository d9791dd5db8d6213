// The quickstart API: plain Node, no dependencies. Listens on $PORT (given by Slipway).
import { createServer } from "node:http";

const version = process.env.SLIPWAY_VERSION ?? "dev";
let requests = 0;
const server = createServer((req, res) => {
  requests++;
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ ok: true, version }));
  }
  if (req.url === "/api/status") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ greeting: process.env.GREETING, version, requests, pid: process.pid }));
  }
  res.writeHead(404).end("not found\n");
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8081), "127.0.0.1", () =>
  console.log(`api ${version} listening on ${process.env.PORT}`),
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
