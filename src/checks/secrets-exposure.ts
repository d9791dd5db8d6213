/**
 * An automatic pre-flight warning: a protected environment on Docker whose services get their
 * secrets as environment variables shows them to anyone who may run `docker inspect` (and in
 * the engine's container config on disk). `secrets: { as: files }` mounts them as files instead.
 */
import type { AutomaticCheck } from "./types.js";

export interface ExposureService {
  name: string;
  secrets?: { as: "env" | "files" };
  secretEnv?: string[];
}

export interface ExposureSpec {
  env?: string;
  target?: { kind: string };
  protect?: unknown;
  services?: Record<string, ExposureService>;
}

export function secretExposureChecks(spec: ExposureSpec): AutomaticCheck[] {
  if (spec.target?.kind !== "docker" || !spec.protect) return [];
  const exposed = Object.values(spec.services ?? {}).filter(
    (s) => s.secretEnv?.length && s.secrets?.as !== "files",
  );
  if (!exposed.length) return [];
  const list = exposed.map((s) => `${s.name} (${s.secretEnv!.join(", ")})`).join("; ");
  return [
    {
      name: "secrets out of docker inspect",
      kind: "env",
      timeoutMs: 1000,
      warnOnly: true,
      run: () =>
        Promise.resolve({
          status: "failed",
          evidence:
            `${spec.env ?? "this environment"} is protected, yet secrets go to containers as environment ` +
            `variables, visible to anyone who can run docker inspect: ${list}; set ` +
            exposed.map((s) => `services.${s.name}.secrets: { as: files }`).join(", "),
        }),
    },
  ];
}
