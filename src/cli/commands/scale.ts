import type { Cli } from "../runtime.js";
import type { ScaleResult } from "../../index.js";
import { UsageError } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("scale <env> <service> <replicas>")
    .description(
      "run more or fewer instances of a service now, without a new revision (kept by the next deploy unless the spec changes replicas)",
    )
    .action(
      cli.action(async (env: string, service: string, n: string) => {
        if (!/^\d+$/.test(n)) throw new UsageError(`replicas: expected a whole number, got "${n}"`);
        const r = (await cli.op("scale", cli.resolve(env), { service, replicas: Number(n) })) as ScaleResult;
        cli.finish(r, (out) => {
          out.stdout(`${r.service}: ${r.from} → ${r.to} instance(s) of revision ${r.revision}`);
          for (const id of r.started) out.stdout(`  started ${id}`);
          for (const id of r.stopped) out.stdout(`  stopped ${id}`);
          if (r.to !== r.specReplicas)
            out.stdout(
              `  the spec says ${r.specReplicas}: deploys keep ${r.to} until the spec's replicas change`,
            );
        });
      }),
    );
}
