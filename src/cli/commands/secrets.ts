import type { Cli } from "../runtime.js";
import type { SecretListing } from "../../index.js";
import { green, red, yellow } from "../render.js";

export function register(cli: Cli): void {
  cli.program
    .command("secrets <env>")
    .description(
      "list the environment's secrets: name, where the value comes from and how old it is — never the values",
    )
    .action(
      cli.action(async (env: string) => {
        const r = (await cli.op("secrets", cli.resolve(env), {})) as SecretListing;
        cli.finish(r, (out) => {
          if (!r.secrets.length) return out.stdout(`no secrets in ${r.env}`);
          const w = Math.max(4, ...r.secrets.map((s) => s.name.length));
          const sw = Math.max(6, ...r.secrets.map((s) => s.source.length));
          out.stdout(`${"NAME".padEnd(w)}  ${"SOURCE".padEnd(sw)}  AGE       LIMIT     STATE`);
          for (const s of r.secrets) {
            const paint =
              s.state === "expired" || s.state === "no value" ? red : s.state === "expiring" ? yellow : green;
            const age = s.state === "no value" ? "-" : `${s.ageDays}d`;
            const limit = s.maxAgeDays !== undefined ? `${s.maxAgeDays}d` : "-";
            const state =
              s.state === "expiring"
                ? `expiring (${s.daysLeft}d left)`
                : s.state === "expired"
                  ? `expired ${-(s.daysLeft ?? 0)}d ago`
                  : s.state;
            out.stdout(
              `${s.name.padEnd(w)}  ${s.source.padEnd(sw)}  ${age.padEnd(8)}  ${limit.padEnd(8)}  ${paint(out, state)}`,
            );
          }
        });
      }),
    );
}
