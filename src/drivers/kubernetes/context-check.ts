/**
 * The safety check of a Kubernetes target, without loading the client: the kubeconfig's context
 * must be the one the spec names (`target.context`, else the current one) and, with
 * `target.cluster`, that context's cluster entry must carry that name. The factory runs it before
 * an operation starts, so a wrong cluster is refused (exit 4) before anything is sent.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { parse } from "yaml";
import { Refused } from "../../errors.js";
import { absoluteKubeconfig } from "../../spec/kubeconfig-path.js";

interface KubeConfigFile {
  "current-context"?: string;
  contexts?: { name: string; context?: { cluster?: string } }[];
}

export interface ContextTarget {
  context?: string;
  cluster?: string;
  kubeconfig?: string;
}

/**
 * The kubeconfig files in effect: the target's (one path or a ':' list; the CLI fills in the
 * caller's), else $KUBECONFIG's list, else ~/.kube/config.
 */
export function kubeconfigFiles(target: ContextTarget, env: NodeJS.ProcessEnv = process.env): string[] {
  if (target.kubeconfig) return absoluteKubeconfig(target.kubeconfig, process.cwd()).split(delimiter);
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean);
  return [join(homedir(), ".kube", "config")];
}

/**
 * The existing kubeconfig files. None at all is refused when one was named (the target's, the
 * caller's, $KUBECONFIG) or the target names a context or cluster: nothing could be checked.
 * Otherwise [] (in a pod, client-node falls back to the service account).
 */
export function existingKubeconfigs(target: ContextTarget, env: NodeJS.ProcessEnv = process.env): string[] {
  const named = kubeconfigFiles(target, env);
  const files = named.filter((f) => existsSync(f));
  const explicit = !!target.kubeconfig || !!env.KUBECONFIG;
  if (!files.length && (explicit || target.context !== undefined || target.cluster !== undefined))
    throw new Refused(
      `no kubeconfig at ${named.join(delimiter)} (target.kubeconfig, else $KUBECONFIG, else ~/.kube/config): ` +
        "the cluster cannot be checked against the spec; nothing was sent",
    );
  return files;
}

/** The context operations use: the target's, else the kubeconfig's current one (undefined: no kubeconfig). */
export function liveKubeContext(
  target: ContextTarget,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (target.context !== undefined) return target.context;
  for (const f of kubeconfigFiles(target, env).filter((x) => existsSync(x))) {
    const current = ((parse(readFileSync(f, "utf8")) ?? {}) as KubeConfigFile)["current-context"];
    if (current) return current;
  }
  return undefined;
}

/** Throws Refused naming both sides when the kubeconfig does not match the target. */
export function checkKubeContext(target: ContextTarget, env: NodeJS.ProcessEnv = process.env): void {
  const files = existingKubeconfigs(target, env);
  if (!files.length || (target.context === undefined && target.cluster === undefined)) return;
  let current: string | undefined;
  const contexts = new Map<string, string | undefined>();
  // As kubectl merges them: the first file to set a value wins.
  for (const f of files) {
    const cfg = (parse(readFileSync(f, "utf8")) ?? {}) as KubeConfigFile;
    current ??= cfg["current-context"];
    for (const c of cfg.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c.context?.cluster);
  }
  const wanted = target.context ?? current;
  const where = files.join(delimiter);
  if (wanted === undefined || !contexts.has(wanted))
    throw new Refused(
      `the spec names kubeconfig context "${wanted ?? ""}" but ${where} has no such context (current: "${current ?? ""}")`,
    );
  const cluster = contexts.get(wanted);
  if (target.cluster !== undefined && cluster !== target.cluster)
    throw new Refused(
      `kubeconfig context "${wanted}" points at cluster "${cluster ?? ""}", but the spec names cluster "${target.cluster}": refusing to touch the wrong cluster`,
    );
}
