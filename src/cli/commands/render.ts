/**
 * `slipway render ENV [SVC]`: the exact Kubernetes manifests of an environment as multi-document
 * YAML (secret values as ${VAR} references): the dry run, and the export for GitOps repositories.
 */
import type { Cli } from "../runtime.js";
import { parseIntArg } from "../runtime.js";

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
          const [
            { loadSpecFile },
            { resolveSpec },
            { defaultVersion },
            render,
            release,
            strategies,
            yaml,
            errors,
            helm,
          ] = await Promise.all([
            import("../../spec/load.js"),
            import("../../spec/resolve.js"),
            import("../runtime.js"),
            import("../../drivers/kubernetes/manifests/render.js"),
            import("../../drivers/kubernetes/manifests/release.js"),
            import("../../engine/strategies/common.js"),
            import("yaml"),
            import("../../errors.js"),
            import("../../drivers/kubernetes/helm.js"),
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
          if (snapshot.target.kind !== "kubernetes")
            throw new errors.UsageError(
              `${env} runs on the ${snapshot.target.kind} target; render prints Kubernetes manifests`,
            );
          if (service && !snapshot.services[service])
            throw new errors.UsageError(
              `no service "${service}" (services: ${Object.keys(snapshot.services).join(", ")})`,
            );
          const revision = parseIntArg("--revision", o.revision) ?? 1;
          const chosen = Object.values(snapshot.services).filter((s) => !service || s.name === service);
          const releases = chosen
            .filter((s) => !s.chart)
            .map((s) =>
              release.releaseOf(snapshot, s, revision, strategies.instanceEnv(snapshot, s, revision)),
            );
          const { manifests, notes } = render.renderEnvironment(releases);
          // Charts keep their own names and objects, rendered by the real helm.
          for (const s of chosen.filter((x) => x.chart))
            manifests.push(
              ...(await helm.helmTemplate({
                release: s.name,
                namespace: snapshot.target.kind === "kubernetes" ? snapshot.target.namespace : "default",
                service: s,
                dir: snapshot.dir,
              })),
            );
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
