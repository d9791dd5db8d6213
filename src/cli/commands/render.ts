/**
 * `slipway render ENV [SVC]`: the exact Kubernetes manifests of an environment as multi-document
 * YAML (secret values as ${VAR} references): the dry run, and the export for GitOps repositories.
 */
import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";
import { loadSpecTools } from "../../core.js";

export function register(cli: Cli): void {
  cli.program
    .command("render <env> [service]")
    .description(
      "print the Kubernetes manifests of an environment (multi-document YAML, secrets as references)",
    )
    .option("--version <v>", "the version to render (default: as deploy would pick it)")
    .option("--revision <n>", "the revision number in object names (default 1)")
    .action(
      cli.action(
        async (env: string, service: string | undefined, o: { version?: string; revision?: string }) => {
          const [{ loadSpecFile, resolveSpec }, { defaultVersion }, { renderManifests }, yaml] =
            await Promise.all([
              loadSpecTools(),
              import("../runtime.js"),
              import("../../index.js"),
              import("yaml"),
            ]);
          const loaded = loadSpecFile(cli.opts.file);
          // A render needs no secret values: unset ones get a stand-in, which the snapshot then
          // prints as its ${NAME} reference like every secret.
          const { snapshot } = resolveSpec(loaded, {
            env,
            version: o.version ?? defaultVersion(loaded.dir),
            lenient: true,
            vars: withStandIns(loaded.text, process.env),
          });
          const revision = parseIntArg("--revision", o.revision) ?? 1;
          const { manifests, notes } = await renderManifests(snapshot, { env, service, revision });
          cli.finish({ manifests, notes }, (out) => {
            out.stdout(
              manifests
                .map((m) => yaml.stringify(m, { lineWidth: 0, aliasDuplicateObjects: false }))
                .join("---\n")
                .trimEnd(),
            );
            for (const n of notes) out.stderr(`note: ${n}`);
          });
        },
      ),
    );
}

/** `${NAME}` and `${NAME:?msg}` references without a default, unset in `vars`, get a stand-in value. */
export function withStandIns(
  text: string,
  vars: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const out = { ...vars };
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?\?[^}]*)?\}/g)) {
    const name = m[1] as string;
    if (name !== "VERSION" && !out[name]) out[name] = `slipway-unset-${name}`;
  }
  return out;
}
