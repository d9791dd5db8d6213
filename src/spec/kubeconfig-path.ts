/**
 * Which kubeconfig a Kubernetes target uses, as absolute paths. The daemon runs in another
 * directory and with the environment of whichever command started it, so the CLI pins the
 * kubeconfig of the shell it runs in (`$KUBECONFIG`, else `~/.kube/config`) on the target it sends,
 * and a `kubeconfig:` in the spec is relative to slipway.yaml. Without this a daemon started from
 * another shell would check and use *its* kubeconfig: another cluster than the caller's.
 */
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";

/** A kubeconfig list (one path, or several joined by ':' as in $KUBECONFIG) made absolute. */
export function absoluteKubeconfig(list: string, base: string, home = homedir()): string {
  return list
    .split(delimiter)
    .filter(Boolean)
    .map((p) => (p === "~" || p.startsWith("~/") ? join(home, p.slice(1)) : resolve(base, p)))
    .join(delimiter);
}

/** The kubeconfig of the calling shell: `$KUBECONFIG` (relative to its directory), else ~/.kube/config. */
export function callerKubeconfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return env.KUBECONFIG ? absoluteKubeconfig(env.KUBECONFIG, cwd) : join(homedir(), ".kube", "config");
}

interface TargetLike {
  kind: string;
  kubeconfig?: string;
}

/** A Kubernetes target with its `kubeconfig` absolute (relative to `dir`); other targets unchanged. */
export function withKubeconfigPath<T extends TargetLike>(target: T, dir: string): T {
  if (target.kind !== "kubernetes" || !target.kubeconfig) return target;
  return { ...target, kubeconfig: absoluteKubeconfig(target.kubeconfig, dir) };
}

/**
 * The target as the CLI sends it: a Kubernetes target that names no kubeconfig gets the caller's.
 * Only the spec the operation runs with; the recorded snapshot keeps what slipway.yaml says.
 */
export function withCallerKubeconfig<T extends TargetLike>(
  target: T,
  env: NodeJS.ProcessEnv = process.env,
): T {
  if (target.kind !== "kubernetes" || target.kubeconfig) return target;
  return { ...target, kubeconfig: callerKubeconfig(env) };
}
