// A tiny app for the domains example: answers its release and what the proxy told it.
import { createServer } from "node:http";

createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  res.setHeader("content-type", "application/json");
  res.end(
    JSON.stringify({
      release: process.env.SLIPWAY_VERSION,
      host: req.headers.host,
      proto: req.headers["x-forwarded-proto"],
      client: req.headers["x-forwarded-for"],
    }) + "\n",
  );
}).listen(Number(process.env.PORT), "127.0.0.1");
