import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { slipwayVersion } from "../version.js";

export function register(cli: Cli): void {
  cli.program
    .command("serve")
    .description("run the Slipway daemon (API, deploy execution, recovery) in the foreground")
    .option("--host <host>", "address to listen on (loopback unless told otherwise)", "127.0.0.1")
    .option("--port <port>", "port (0: any free port)", "7437")
    .action(
      cli.action(async (o: { host: string; port: string }) => {
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
