import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Cli } from "../runtime.js";
import { UsageError, loadSpecExtras } from "../../core.js";
import { green, yellow } from "../render.js";
import { copyExample, exampleNames } from "./init-example.js";

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

/** The app the starter runs, so `slipway deploy development` works right after `init`. */
const STARTER_APP = `// A minimal app for the starter slipway.yaml: it listens on $PORT and answers /health.
// Replace it with yours (or change \`run:\` in slipway.yaml).
import { createServer } from "node:http";

const version = process.env.SLIPWAY_VERSION ?? "dev";
createServer((req, res) => {
  if (req.url === "/health") return res.end("ok\\n");
  res.end(\`hello from \${version}\\n\`);
}).listen(Number(process.env.PORT ?? 8080), "127.0.0.1");
`;

/** Write server.js beside the starter unless one exists; say which. */
function writeStarterApp(dir: string): string | undefined {
  const app = join(dir, "server.js");
  if (existsSync(app)) return undefined;
  writeFileSync(app, STARTER_APP);
  if (!existsSync(join(dir, "package.json")))
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`,
    );
  return app;
}

export function register(cli: Cli): void {
  cli.program
    .command("init")
    .description("write a slipway.yaml: a starter, or one imported from a Compose file")
    .option(
      "--from-compose <file>",
      "import services, ports, env, volumes, depends_on, healthchecks and resources",
    )
    .option(
      "--example <name>",
      `copy an example project (a runbook made executable) into this directory: ${exampleNames().join(", ")}`,
    )
    .option(
      "--from-helm <release>",
      "import an installed Helm release: a chart service of that name, its values (helm get values) in values-<release>.yaml",
    )
    .option("--namespace <ns>", "with --from-helm: the release's namespace", "default")
    .option("--kube-context <context>", "with --from-helm: the kubeconfig context (default: the current one)")
    .option("--force", "overwrite an existing spec file")
    .action(
      cli.action(async (o: InitOptions) => {
        const target = resolve(cli.opts.file);
        if (o.example) return initExample(cli, o.example, dirname(target), o.force);
        if (o.fromHelm) return initFromHelm(cli, o, target);
        if (existsSync(target) && !o.force)
          throw new UsageError(`${cli.opts.file} already exists (use --force to overwrite it)`);
        let text: string;
        let unmapped: string[] = [];
        let app: string | undefined;
        if (o.fromCompose) {
          let compose: string;
          try {
            compose = readFileSync(o.fromCompose, "utf8");
          } catch (e) {
            throw new UsageError(
              `--from-compose ${o.fromCompose}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
            );
          }
          const { importCompose } = await loadSpecExtras();
          ({ yaml: text, unmapped } = importCompose(compose, o.fromCompose));
        } else {
          const name =
            basename(dirname(target))
              .toLowerCase()
              .replace(/[^a-z0-9-_]/g, "-")
              .replace(/^-+|-+$/g, "") || "app";
          text = STARTER(name);
          app = writeStarterApp(dirname(target));
        }
        writeFileSync(target, text);
        cli.finish({ file: target, unmapped, ...(app ? { app } : {}) }, (out) => {
          out.stdout(green(out, `✔ wrote ${cli.opts.file}`));
          if (app) out.stdout(green(out, `✔ wrote ${app} (a minimal app on $PORT with /health; replace it)`));
          else if (!o.fromCompose)
            out.stdout(
              `  server.js exists: it is what \`run: node server.js\` starts (it must listen on $PORT)`,
            );
          if (!o.fromCompose) out.stdout("  next: slipway deploy development");
          if (unmapped.length) {
            out.stderr(yellow(out, `! ${unmapped.length} Compose item(s) could not be mapped; review them:`));
            for (const u of unmapped) out.stderr(`  - ${u}`);
          }
        });
      }),
    );
}

interface InitOptions {
  fromCompose?: string;
  fromHelm?: string;
  namespace: string;
  kubeContext?: string;
  example?: string;
  force?: boolean;
}

async function initFromHelm(cli: Cli, o: InitOptions, target: string): Promise<void> {
  const { importHelmRelease } = await import("../../index.js");
  const imported = await importHelmRelease({
    release: o.fromHelm as string,
    namespace: o.namespace,
    ...(o.kubeContext ? { context: o.kubeContext } : {}),
  });
  const values = join(dirname(target), imported.valuesFile);
  for (const f of [target, values])
    if (existsSync(f) && !o.force) throw new UsageError(`${f} already exists (use --force to overwrite it)`);
  writeFileSync(target, imported.spec);
  writeFileSync(values, imported.values, { mode: 0o600 });
  cli.finish({ file: target, values, chart: imported.chart, notes: imported.notes }, (out) => {
    out.stdout(
      green(out, `✔ wrote ${cli.opts.file} and ${imported.valuesFile} (Helm release ${o.fromHelm})`),
    );
    for (const n of imported.notes) out.stdout(yellow(out, `! ${n}`));
    out.stdout("  next: slipway render production, then slipway deploy production");
  });
}

function initExample(cli: Cli, name: string, dir: string, force?: boolean): void {
  const copied = copyExample(name, dir, force);
  cli.finish(copied, (out) => {
    out.stdout(green(out, `✔ copied example ${name} (${copied.files.length} files) into ${dir}`));
    if (copied.private.length) out.stdout(`  made private (chmod 600): ${copied.private.join(", ")}`);
    out.stdout(`  next: read README.md, then slipway validate and slipway check ${copied.environment}`);
  });
}
