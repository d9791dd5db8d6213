/**
 * The grammar of the names users choose — services, environments, release labels — and why:
 * they end up in process and container names, Docker networks, volumes and image tags.
 */
import { UsageError } from "../errors.js";

/** Service and environment names: lower-case letters, digits, - or _, starting and ending alnum. */
export const SERVICE_NAME = /^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$/;

/** A release label (`--version`): the grammar of a Docker image tag, so it is safe everywhere. */
export const VERSION_LABEL = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function checkVersionLabel(version: string): void {
  if (!VERSION_LABEL.test(version))
    throw new UsageError(
      `--version ${JSON.stringify(version.length > 140 ? `${version.slice(0, 140)}…` : version)}: a release ` +
        "label is 1–128 letters, digits, _, . or - and starts with a letter, digit or _ (the grammar of an image tag)",
    );
}

/**
 * Why an environment name is refused, if it is. Docker and Kubernetes objects are named
 * `<project>-<env>-…`; a '-' in the environment would make that ambiguous across projects
 * (project shop, env prod-eu and project shop-prod, env eu would share networks and volumes).
 */
export function environmentNameProblem(name: string, targetKind: string | undefined): string | undefined {
  if (name.length > 63 || !SERVICE_NAME.test(name))
    return `environment names are lower-case letters, digits, - or _ (at most 63), like service names`;
  if (name.includes("-") && (targetKind === "docker" || targetKind === "kubernetes"))
    return (
      `on the ${targetKind} target an environment name cannot contain "-": objects are named ` +
      `<project>-<env>-…, so "${name}" could collide with another project's (use ${name.replace(/-/g, "_")})`
    );
  return undefined;
}
