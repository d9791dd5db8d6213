import type { Cli } from "../runtime.js";
import { runProxyProcess } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("proxy")
    .description("run the Slipway proxy (the data plane) in the foreground; the daemon normally starts it")
    .action(
      cli.action(async () => {
        // The proxy's entry reads its own argv; hand it --home and let it run.
        process.argv = [process.argv[0], "slipway-proxy", "--home", cli.home];
        await runProxyProcess();
      }),
    );
}
