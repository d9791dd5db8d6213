// The quickstart web front end: calls the API and renders a page. Plain Node, no dependencies.
import { createServer } from "node:http";

const version = process.env.SLIPWAY_VERSION ?? "dev";
const api = process.env.API_URL ?? "http://127.0.0.1:8081";
const server = createServer(async (req, res) => {
  if (req.url === "/health") return res.writeHead(200).end("ok\n");
  let status = { greeting: "(api unreachable)" };
  try {
    status = await (await fetch(`${api}/api/status`)).json();
  } catch {
    /* shown on the page */
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(
    `<!doctype html><title>quickstart</title><h1>${status.greeting}</h1><p>web ${version}, api ${status.version}</p>\n`,
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", () =>
  console.log(`web ${version} listening on ${process.env.PORT}`),
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
