// The running containers of this project and environment, as Slipway labels them
// (slipway.project, slipway.env, slipway.service). Used by the checklist scripts beside this file.
import { execFileSync, spawnSync } from "node:child_process";

export const env = process.env.ENVIRONMENT || "production"; // from .env.<environment>

export function docker(...args) {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** [{ id, service }] of the running containers of ai-education-platform in `env`. */
export function containers() {
  const out = docker(
    "ps",
    "--filter",
    "label=slipway.project=ai-education-platform",
    "--filter",
    `label=slipway.env=${env}`,
    "--format",
    '{{.ID}} {{.Label "slipway.service"}}',
  );
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [id, service] = l.split(" ");
      return { id, service };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** What a container wrote to stdout and stderr since `since` (docker logs --since). */
export function logs(id, since) {
  const r = spawnSync("docker", ["logs", "--since", since, id], { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}
