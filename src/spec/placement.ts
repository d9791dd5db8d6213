/**
 * Where the instances of a service run on a multi-host Docker target: every host runs `replicas`
 * instances (as Kamal runs a role on each of its hosts), a stateful service runs on one host —
 * the first, or the one `placement.hosts` names. resolve() turns this into the service's
 * `placement` (host keys) and its total `replicas`; the driver puts instance i on placement[i % n].
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Target } from "./schema.js";

export interface DockerHostSpec {
  /** user@host[:port], the host's key in labels and placement. */
  ssh: string;
  /** Address the host's published ports bind to (default its loopback). */
  publish?: string;
  /** A short name for placement (default: the ssh string). */
  name?: string;
}

/** The target's remote hosts in their long form ([] for the local engine and other targets). */
export function dockerHosts(target: Target): DockerHostSpec[] {
  if (target.kind !== "docker" || !("hosts" in target) || !target.hosts) return [];
  return target.hosts.map((h) => (typeof h === "string" ? { ssh: h } : h));
}

/**
 * The host keys a service runs on, or a message saying what is wrong with `placement.hosts`.
 * undefined: the target has no host list (placement does not apply).
 */
export function placeService(
  target: Target,
  svc: { stateful: boolean; placement?: { hosts?: string[] } },
): { hosts: string[] } | { error: string; at: "hosts" | "placement" } | undefined {
  const hosts = dockerHosts(target);
  if (!hosts.length)
    return svc.placement?.hosts
      ? { error: "placement needs a docker target with `hosts`", at: "placement" }
      : undefined;
  const wanted = svc.placement?.hosts;
  if (!wanted) return { hosts: (svc.stateful ? hosts.slice(0, 1) : hosts).map((h) => h.ssh) };
  const keys: string[] = [];
  for (const w of wanted) {
    const h = hosts.find((x) => x.name === w || x.ssh === w);
    if (!h)
      return {
        error: `"${w}" is not a host of this environment (hosts: ${hosts.map((x) => x.name ?? x.ssh).join(", ")})`,
        at: "hosts",
      };
    if (!keys.includes(h.ssh)) keys.push(h.ssh);
  }
  if (!keys.length) return { error: "name at least one host", at: "hosts" };
  if (svc.stateful && keys.length > 1)
    return { error: "a stateful service runs on one host (never two copies of its data)", at: "hosts" };
  return { hosts: keys };
}

/** The target with its SSH file paths made absolute (~/… and relative to slipway.yaml's directory). */
export function withSshPaths(target: Target, dir: string, home = homedir()): Target {
  if (target.kind !== "docker" || !("ssh" in target) || !target.ssh) return target;
  const abs = (p: string | undefined) =>
    p === undefined ? undefined : p.startsWith("~/") ? join(home, p.slice(2)) : resolve(dir, p);
  const key = abs(target.ssh.key);
  const knownHosts = abs(target.ssh.knownHosts);
  return {
    ...target,
    ssh: { ...(key ? { key } : {}), ...(knownHosts ? { knownHosts } : {}) },
  };
}
