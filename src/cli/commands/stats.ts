/** `slipway stats ENV [SVC]`: CPU and memory of every instance, from the driver. */
import type { Cli } from "../runtime.js";
import type { InstanceStatsRow } from "../../index.js";
import { formatBytes } from "../../core.js";
import { bold, dim } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("stats <env> [service]")
    .description("CPU % and memory (used / limit) of every instance")
    .action(
      cli.action(
        async (env: string, service: string | undefined) => {
          const r = (await cli.op("stats", await cli.light(env), { service })) as {
            instances: InstanceStatsRow[];
          };
          cli.finish(r, (out) => {
            out.stdout(bold(out, `${"INSTANCE".padEnd(36)} ${"CPU %".padStart(7)}  MEMORY / LIMIT`));
            for (const i of r.instances) {
              const s = i.stats;
              const cpu = s ? `${(s.cpu * 100).toFixed(1)}%` : "-";
              const mem = s
                ? `${formatBytes(s.memory)} / ${s.memoryLimit ? formatBytes(s.memoryLimit) : "-"}`
                : "-";
              const note = s ? "" : dim(out, `  (${i.state})`);
              out.stdout(
                `${i.id.padEnd(36)} ${cpu.padStart(7)}  ${mem}${i.host ? dim(out, `  ${i.host}`) : ""}${note}`,
              );
            }
          });
        },
        { light: true },
      ),
    );
}
