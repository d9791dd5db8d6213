/**
 * Private registries: the credentials digest resolution logs in with (the target's `registry`, else
 * `docker login`'s `auths` in $DOCKER_CONFIG/config.json or ~/.docker/config.json), and the pull
 * Secret pods get (`<project>-registry`, type kubernetes.io/dockerconfigjson) plus the existing
 * Secrets named by `imagePullSecrets`. Credential values are never logged, never recorded in a
 * revision; `slipway render` prints a reference in their place.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { V1Secret } from "@kubernetes/client-node";
import { DriverError } from "../../errors.js";
import type { ResolvedService } from "../../spec/resolved.js";
import type { Registry } from "../../spec/schema-kubernetes.js";
import { dnsLabel, LABEL, labelValue } from "./manifests/names.js";

export interface Credentials {
  username: string;
  password: string;
}

/** What of the target this module reads. */
export interface RegistryTarget {
  registry?: Registry;
  imagePullSecrets?: string[];
}

const DOCKER_HUB = ["registry-1.docker.io", "docker.io", "index.docker.io", "https://index.docker.io/v1/"];

/** The host of an `auths` key (`https://ghcr.io/v1/` → `ghcr.io`). */
const hostOf = (key: string) => key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");

/** `docker login`'s credentials for a registry host, from config.json (`auth`, or username/password). */
export function dockerConfigCredentials(
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  const file = join(env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  let auths: Record<string, { auth?: string; username?: string; password?: string }>;
  try {
    auths = (JSON.parse(readFileSync(file, "utf8")) as { auths?: typeof auths }).auths ?? {};
  } catch {
    return undefined;
  }
  const wanted = DOCKER_HUB.includes(registry) ? DOCKER_HUB.map(hostOf) : [registry];
  const entry = Object.entries(auths).find(([k]) => wanted.includes(hostOf(k)))?.[1];
  if (!entry) return undefined;
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  return entry.username && entry.password
    ? { username: entry.username, password: entry.password }
    : undefined;
}

/** The credentials for a registry host: the target's `registry` when it names that host, else docker's. */
export function credentialsFor(target: RegistryTarget, registry: string): Credentials | undefined {
  const r = target.registry;
  if (r && hostOf(r.server) === registry && r.username && r.password)
    return { username: r.username, password: r.password };
  return dockerConfigCredentials(registry);
}

export const registrySecretName = (project: string) => `${dnsLabel(project, 50)}-registry`;

/** The Secret names a service's pods pull with: the target's registry Secret and the named ones. */
export function pullSecretsOf(
  project: string,
  target: RegistryTarget,
  svc?: Pick<ResolvedService, "imagePullSecrets">,
): string[] {
  const names = [
    ...(target.registry ? [registrySecretName(project)] : []),
    ...(target.imagePullSecrets ?? []),
    ...(svc?.imagePullSecrets ?? []),
  ];
  return [...new Set(names)];
}

/**
 * The pull Secret made from the target's `registry`: with the real credentials to apply, or, for
 * `slipway render` (`references`), with the spec's `${…}` references and no values at all.
 */
export function registrySecret(
  project: string,
  namespace: string,
  target: RegistryTarget,
  mode: "apply" | "references",
): V1Secret | undefined {
  const r = target.registry;
  if (!r) return undefined;
  const server = hostOf(r.server);
  let entry: Record<string, string>;
  if (mode === "references")
    entry =
      r.username && r.password
        ? { username: r.username, password: r.password }
        : { auth: `\${docker login ${server}: ~/.docker/config.json at deploy}` };
  else {
    const creds = credentialsFor(target, server);
    if (!creds)
      throw new DriverError(
        "kubernetes",
        `registry ${server}: no credentials (give registry.username and registry.password, or run \`docker login ${server}\` where slipway runs)`,
      );
    const auth = Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
    entry = { username: creds.username, password: creds.password, auth };
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: {
      name: registrySecretName(project),
      namespace,
      labels: { "app.kubernetes.io/managed-by": "slipway", [LABEL.project]: labelValue(project) },
    },
    stringData: { ".dockerconfigjson": JSON.stringify({ auths: { [server]: entry } }) },
  };
}
