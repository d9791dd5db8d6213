// Slipway's Docker test app: an HTTP server whose version and health are set by env/build args.
//   PORT          port to listen on (default 3000)
//   APP_VERSION   reported version (the image sets it from the VERSION build arg)
//   HEALTH        "ok" (default) | "fail" (GET /health answers 500) | "exit" (exit 3 at start)
//   GET /         {"version","hostname","service"}     GET /health  200 "ok" or 500
//   GET /fetch?url=U  fetches U from inside the container (service discovery tests)
//   GET /redis?cmd=C  sends the inline command C to $REDIS_HOST:6379 (default host "redis"),
//                     answers with the first line of the reply
import { createServer } from "node:http";
import { connect } from "node:net";
import { hostname } from "node:os";

const port = Number(process.env.PORT ?? 3000);
const version = process.env.APP_VERSION ?? "unknown";
const health = process.env.HEALTH ?? "ok";

if (health === "exit") {
  console.error("HEALTH=exit: exiting with code 3");
  process.exit(3);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/health") {
    res.writeHead(health === "fail" ? 500 : 200, { "content-type": "text/plain" });
    return res.end(health === "fail" ? "unhealthy" : "ok");
  }
  if (url.pathname === "/redis") {
    const sock = connect(6379, process.env.REDIS_HOST ?? "redis");
    let reply = "";
    sock.setTimeout(3000, () => sock.destroy(new Error("redis timeout")));
    sock.on("connect", () => sock.write(`${url.searchParams.get("cmd") ?? "PING"}\r\n`));
    sock.on("data", (d) => {
      reply += d;
      if (reply.includes("\r\n")) sock.end();
    });
    sock.on("close", () => {
      res.writeHead(reply ? 200 : 502, { "content-type": "text/plain" });
      res.end(reply.split("\r\n").filter((l) => !/^\$\d+$/.test(l))[0] ?? "no reply");
    });
    sock.on("error", () => {});
    return;
  }
  if (url.pathname === "/fetch") {
    try {
      const r = await fetch(url.searchParams.get("url") ?? "", { signal: AbortSignal.timeout(5000) });
      res.writeHead(r.status, { "content-type": "text/plain" });
      return res.end(await r.text());
    } catch (e) {
      res.writeHead(502, { "content-type": "text/plain" });
      return res.end(String(e));
    }
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ version, hostname: hostname(), service: process.env.SLIPWAY_SERVICE ?? null }));
});

server.listen(port, "0.0.0.0", () => {
  console.log(`test app ${version} listening on ${port}`);
  console.error(`stderr: health mode ${health}`);
});

const shutdown = (sig) => {
  console.log(`received ${sig}, closing`);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
