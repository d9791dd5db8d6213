/**
 * The environment reference read lightly from slipway.yaml for read-only commands (status, history, logs, lock):
 * project, environment and target only — no schema, no interpolation — so those commands start
 * fast. The daemon answers them from the deployed revision's snapshot.
 */
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { parse } from "yaml";
import { SpecError } from "../errors.js";
import type { ResolvedSpec } from "./resolved.js";
import { didYouMean } from "./suggest.js";
import { withKubeconfigPath } from "./kubeconfig-path.js";
import { withSshPaths } from "./placement.js";

export interface LightRef {
  project: string;
  env: string;
  target: ResolvedSpec["target"];
}

export function lightRef(file: string, env: string): LightRef {
  const abs = resolvePath(file);
  let raw: unknown;
  try {
    raw = parse(readFileSync(abs, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? "spec file not found (create one with `slipway init`, or pass -f FILE)"
        : `cannot read the spec: ${(e as Error).message.split("\n")[0]}`;
    throw new SpecError([{ file, path: "", message }]);
  }
  const r = (raw ?? {}) as { project?: unknown; environments?: Record<string, { target?: unknown }> };
  if (typeof r.project !== "string")
    throw new SpecError([{ file: abs, path: "project", message: "required" }]);
  const envs = r.environments && typeof r.environments === "object" ? r.environments : {};
  const e = envs[env];
  if (!e || typeof e !== "object")
    throw new SpecError([
      {
        file: abs,
        path: "environments",
        message: `no environment "${env}"${didYouMean(env, Object.keys(envs))}; defined: ${Object.keys(envs).join(", ") || "none"}`,
      },
    ]);
  const t = e.target ?? "process";
  const target = (typeof t === "string" ? { kind: t } : t) as ResolvedSpec["target"];
  return { project: r.project, env, target };
}

/** A spec with nothing but the reference: what a read-only operation sends to the daemon. */
export function lightSpec(ref: LightRef, file: string): ResolvedSpec {
  return {
    project: ref.project,
    env: ref.env,
    file: resolvePath(file),
    dir: resolvePath(file, ".."),
    version: "",
    target: withKubeconfigPath(withSshPaths(ref.target, resolvePath(file, "..")), resolvePath(file, "..")),
    proxyHost: "127.0.0.1",
    services: {},
    checks: [],
    schedules: [],
  };
}
