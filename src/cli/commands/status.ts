import type { Cli } from "../runtime.js";
import type { EnvStatus } from "../../index.js";
import { renderStatus } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("status <env>")
    .description("services, instances, health, revision and URLs")
    .option("--no-probe", "do not probe the instances' health")
    .action(
      cli.action(
        async (env: string, o: { probe?: boolean }) => {
          const s = (await cli.op("status", await cli.light(env), {
            probe: o.probe !== false,
          })) as EnvStatus;
          cli.finish(s, (out) => renderStatus(out, s));
        },
        { light: true },
      ),
    );
  cli.program
    .command("health <env>")
    .description(
      "probe every instance; exit 1 when one is unhealthy, a service is not running or nothing is deployed",
    )
    .action(
      cli.action(
        async (env: string) => {
          const s = (await cli.op("health", await cli.light(env), {})) as EnvStatus;
          const bad = s.services.filter((x) => x.status !== "running");
          // Nothing deployed (never, or destroyed) is not healthy: a monitor must not read it as fine.
          const none = !s.revision || !s.services.length;
          cli.finish(s, (out) => renderStatus(out, s), bad.length || none ? 1 : 0);
        },
        { light: true },
      ),
    );
}
