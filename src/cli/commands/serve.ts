import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { slipwayVersion } from "../version.js";

interface ServeOptions {
  host: string;
  port: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  allowedHost: string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(cli: Cli): void {
  cli.program
    .command("serve")
    .description(
      "run the Slipway daemon (API, deploy execution, recovery) in the foreground; the local CLI talks to it over $SLIPWAY_HOME/daemon.sock",
    )
    .option(
      "--host <host>",
      "TCP address for the dashboard and remote API (loopback unless told otherwise)",
      "127.0.0.1",
    )
    .option("--port <port>", "TCP port (0: any free port)", "7437")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM; required off loopback)")
    .option("--tls-key <file>", "the certificate's private key (PEM)")
    .option("--insecure-http", "allow plain HTTP on a non-loopback --host (prints a warning)")
    .option("--allowed-host <name>", "a Host header name the listener answers to (repeatable)", collect, [])
    .action(
      cli.action(async (o: ServeOptions) => {
        const { createRuntime, fileLogger } = await import("../../index.js");
        const { startDaemon } = await import("../../server/daemon.js");
        const home = cli.home;
        const logger = fileLogger(process.stderr);
        const engine = await createRuntime({ home, logger });
        const d = await startDaemon({
          home,
          host: o.host,
          port: parseIntArg("--port", o.port) ?? 7437,
          engine,
          logger,
          version: slipwayVersion(),
          tcp: {
            tls: o.tlsCert || o.tlsKey ? { cert: o.tlsCert ?? "", key: o.tlsKey ?? "" } : undefined,
            insecureHttp: o.insecureHttp,
            allowedHosts: o.allowedHost,
          },
        }).catch(async (e: unknown) => {
          await engine.close();
          throw e;
        });
        const shutdown = async () => {
          logger.info("shutting down (instances and the proxy keep running)");
          await d.close();
          process.exit(0);
        };
        process.on("SIGTERM", () => void shutdown());
        process.on("SIGINT", () => void shutdown());
      }),
    );
}
