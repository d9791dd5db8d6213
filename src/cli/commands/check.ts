import { createInterface } from "node:readline/promises";
import type { Cli } from "../runtime.js";
import type { Resolution } from "../../index.js";
import { green } from "../render.js";

/**
 * Items of `confirm` checks not given with --confirm, asked at the terminal when there is one.
 * `prompted` are the items confirmed at the prompt (recorded `via: "prompt"`).
 */
export async function promptConfirmations(
  res: Resolution,
  given: string[] = [],
  json = false,
): Promise<{ confirm: string[]; prompted: string[] }> {
  const items = res.spec.checks.flatMap((c) => {
    const x = c as { kind?: string; items?: unknown };
    return x.kind === "confirm" && Array.isArray(x.items) ? (x.items as string[]) : [];
  });
  const norm = (s: string) => s.trim().toLowerCase();
  const missing = items.filter((i) => !given.some((g) => norm(g) === norm(i)));
  if (!missing.length || !process.stdin.isTTY || !process.stderr.isTTY || json)
    return { confirm: given, prompted: [] };
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const prompted: string[] = [];
  try {
    for (const item of missing) {
      const a = await rl.question(`? ${item} — confirmed? [y/N] `);
      if (/^y(es)?$/i.test(a.trim())) prompted.push(item);
    }
  } finally {
    rl.close();
  }
  return { confirm: [...given, ...prompted], prompted };
}

export function register(cli: Cli): void {
  cli.program
    .command("check <env>")
    .description("run the pre-flight checklist; each item ✔/✖ with its evidence (exit 1 on a failure)")
    .option("--confirm <items...>", 'confirm human checklist items (e.g. "team notified")')
    .action(
      cli.action(async (env: string, o: { confirm?: string[] }) => {
        const res = cli.resolve(env, "check");
        const { confirm, prompted } = await promptConfirmations(res, o.confirm, cli.opts.json);
        const r = (await cli.op("check", res, { confirm, prompted })) as { summary: string };
        cli.finish(r, (out) => out.stdout(green(out, `✔ checks passed: ${r.summary}`)));
      }),
    );
}
