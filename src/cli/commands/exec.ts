/** `slipway exec ENV SVC [--instance ID] -- CMD …`: a command inside a running instance. */
import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import type { ExecResult } from "../../index.js";
import { UsageError } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("exec <env> <service> [command...]")
    .description(
      "run a command inside a running instance (containers: docker exec; processes: a one-off in its release); exits with the command's exit code",
    )
    .option("--instance <id>", "which instance (default: a running stable one)")
    .option("--timeout <seconds>", "kill the command after this many seconds", "600")
    .action(
      cli.action(
        async (
          env: string,
          service: string,
          command: string[],
          o: { instance?: string; timeout: string },
        ) => {
          if (!command.length) throw new UsageError("exec: no command given (slipway exec ENV SVC -- CMD …)");
          const timeout = parseIntArg("--timeout", o.timeout) ?? 600;
          const r = (await cli.op("exec", cli.resolve(env, "exec"), {
            service,
            command,
            instance: o.instance,
            timeoutMs: timeout * 1000,
          })) as ExecResult;
          // The command's own code (a negative one, from an engine that lost it, is a failure).
          const code = r.exitCode >= 0 && r.exitCode <= 255 ? r.exitCode : 1;
          cli.finish(
            r,
            (out) => {
              if (r.output) process.stdout.write(r.output.endsWith("\n") ? r.output : r.output + "\n");
              if (code !== 0) out.stderr(`${r.instance}: exit ${r.exitCode}`);
            },
            code,
          );
        },
      ),
    );
}
