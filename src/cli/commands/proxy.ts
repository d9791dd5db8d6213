import { availableParallelism } from "node:os";
import type { Cli } from "../runtime.js";
import { proxyWorkers, runProxyProcess, UsageError } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("proxy")
    .description("run the Slipway proxy (the data plane) in the foreground; the daemon normally starts it")
    .option(
      "--workers <n>",
      "worker processes for the data plane (a number, or auto = the CPU count); default: $SLIPWAY_PROXY_WORKERS, else 1 (one process)",
    )
    .action(
      cli.action(async (o: { workers?: string }) => {
        if (o.workers !== undefined) process.env.SLIPWAY_PROXY_WORKERS = workersArg(o.workers);
        // The proxy's entry reads its own argv; hand it --home and let it run.
        process.argv = [process.argv[0], "slipway-proxy", "--home", cli.home];
        await runProxyProcess();
      }),
    );
}

/** A --workers / --proxy-workers value, checked as the proxy will read it. */
export function workersArg(v: string, flag = "--workers"): string {
  try {
    proxyWorkers(v, availableParallelism());
  } catch {
    throw new UsageError(`${flag} "${v}" is not a number of worker processes from 1 to 64 or "auto"`);
  }
  return v.trim();
}
