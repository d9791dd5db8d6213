import type { Cli } from "../runtime.js";
import { green } from "../render.js";
import { protectOptions, protectionArgs } from "../protect-prompt.js";

/** Taking an environment down does not need the files its deploy read (certificates, env files). */
const TAKING_DOWN = { lenientFiles: true };

export function register(cli: Cli): void {
  cli.program
    .command("stop <env> [service]")
    .description("stop the instances of an environment (or of one service)")
    .action(
      cli.action(async (env: string, service: string | undefined) => {
        const r = (await cli.op("stop", cli.resolve(env, "stop", TAKING_DOWN), { service })) as {
          stopped: string[];
        };
        cli.finish(r, (out) => out.stdout(green(out, `✔ stopped ${r.stopped.length} instance(s)`)));
      }),
    );
  const destroy = cli.program
    .command("destroy <env>")
    .description("stop everything and remove the environment's releases (history is kept)")
    .option("-y, --yes", "confirm destroying a protected environment")
    .option("--delete-namespace", "Kubernetes: also delete the target's namespace (never deleted otherwise)");
  protectOptions(destroy).action(
    cli.action(async (env: string, o: { yes?: boolean; confirmName?: string; deleteNamespace?: boolean }) => {
      const res = cli.resolve(env, "destroy", TAKING_DOWN);
      const guard = await protectionArgs(res, "destroy", o, cli.opts.json);
      const r = (await cli.op("destroy", res, {
        ...guard,
        yes: o.yes,
        ...(o.deleteNamespace ? { deleteNamespace: true } : {}),
      })) as { stopped: string[]; removed?: string[] };
      const removed = r.removed?.length ? `; deleted ${r.removed.join(", ")}` : "";
      cli.finish(r, (out) =>
        out.stdout(green(out, `✔ destroyed ${env}: stopped ${r.stopped.length} instance(s)${removed}`)),
      );
    }),
  );
}
