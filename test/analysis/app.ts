/**
 * A real HTTP test app for the analysis tests: /metrics in Prometheus text format with values
 * the test changes at run time, and /status as JSON.
 */
import { createServer, type Server } from "node:http";

export interface MetricsApp {
  port: number;
  url: string;
  /** Counter app_requests_total{code}. */
  requests: Record<string, number>;
  /** Gauges by name, exposed as `name value`. */
  gauges: Record<string, number>;
  /** The JSON document served at /status. */
  status: unknown;
  /** Status code /metrics and /status answer with (200 by default). */
  failWith?: number;
  /** Basic auth the app requires (user:pass), if set. */
  auth?: string;
  /** Authorization headers seen. */
  seenAuth: string[];
  close(): Promise<void>;
}

export async function startMetricsApp(): Promise<MetricsApp> {
  const app = {
    requests: { "200": 0, "500": 0 } as Record<string, number>,
    gauges: {} as Record<string, number>,
    status: {} as unknown,
    failWith: undefined as number | undefined,
    auth: undefined as string | undefined,
    seenAuth: [] as string[],
  };
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization) app.seenAuth.push(req.headers.authorization);
    if (app.auth && req.headers.authorization !== `Basic ${Buffer.from(app.auth).toString("base64")}`) {
      res.writeHead(401).end("unauthorized");
      return;
    }
    if (app.failWith) {
      res.writeHead(app.failWith).end("broken");
      return;
    }
    if (req.url === "/metrics") {
      const lines = [
        "# HELP app_requests_total Requests by status code.",
        "# TYPE app_requests_total counter",
        ...Object.entries(app.requests).map(
          ([code, n]) => `app_requests_total{code="${code}",path="/api"} ${n}`,
        ),
      ];
      for (const [name, v] of Object.entries(app.gauges)) lines.push(`# TYPE ${name} gauge`, `${name} ${v}`);
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(lines.join("\n") + "\n");
      return;
    }
    if (req.url === "/status") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(app.status));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return Object.assign(app, {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
