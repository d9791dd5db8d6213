import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Cli } from "../runtime.js";
import { UsageError, loadSpecTools } from "../../core.js";
import { green, yellow } from "../render.js";

const STARTER = (
  project: string,
) => `# slipway.yaml — see docs/spec.md; \`slipway validate\` checks it, \`slipway plan development\` shows what a deploy does.
project: ${project}

environments:
  development:
    target: process
  production:
    target: process
    protect: true # deploy, rollback and destroy need --yes

services:
  web:
    run: node server.js # the command that starts an instance; it listens on $PORT
    path: .
    port: 8080 # where users reach it (Slipway's proxy)
    health: { http: /health, interval: 1s, timeout: 2s }
`;

export function register(cli: Cli): void {
  cli.program
    .command("init")
    .description("write a slipway.yaml: a starter, or one imported from a Compose file")
    .option(
      "--from-compose <file>",
      "import services, ports, env, volumes, depends_on, healthchecks and resources",
    )
    .option("--force", "overwrite an existing spec file")
    .action(
      cli.action(async (o: { fromCompose?: string; force?: boolean }) => {
        const target = resolve(cli.opts.file);
        if (existsSync(target) && !o.force)
          throw new UsageError(`${cli.opts.file} already exists (use --force to overwrite it)`);
        let text: string;
        let unmapped: string[] = [];
        if (o.fromCompose) {
          let compose: string;
          try {
            compose = readFileSync(o.fromCompose, "utf8");
          } catch (e) {
            throw new UsageError(
              `--from-compose ${o.fromCompose}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
            );
          }
          const { importCompose } = await loadSpecTools();
          ({ yaml: text, unmapped } = importCompose(compose, o.fromCompose));
        } else {
          const name =
            basename(dirname(target))
              .toLowerCase()
              .replace(/[^a-z0-9-_]/g, "-")
              .replace(/^-+|-+$/g, "") || "app";
          text = STARTER(name);
        }
        writeFileSync(target, text);
        cli.finish({ file: target, unmapped }, (out) => {
          out.stdout(green(out, `✔ wrote ${cli.opts.file}`));
          if (unmapped.length) {
            out.stderr(yellow(out, `! ${unmapped.length} Compose item(s) could not be mapped; review them:`));
            for (const u of unmapped) out.stderr(`  - ${u}`);
          }
        });
      }),
    );
}
