/**
 * Image tags → digests for the recorded revision, by the OCI distribution API
 * (`HEAD /v2/<name>/manifests/<tag>`, the `Docker-Content-Digest` header). When the registry answers
 * 401, its `WWW-Authenticate` challenge is met: Basic with the registry's credentials (registry-auth.ts),
 * or a Bearer token from its realm (asked with those credentials, else anonymously). When the registry
 * cannot be asked (no network, a timeout, credentials needed), the tag is kept and the reason is
 * said: "could not resolve digest (…)". Images already pinned (`@sha256:`) are never looked up.
 */
import type { Logger } from "../../logger.js";
import type { Artifact, PrepareOptions } from "../driver.js";
import { credentialsFor, type RegistryTarget } from "./registry-auth.js";

export interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
}

/** Docker's rules: a first part with a dot or a colon, or `localhost`, is a registry host. */
export function parseImageRef(image: string): ImageRef {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  const hosted = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hosted ? first : "registry-1.docker.io";
  let rest = hosted ? image.slice(slash + 1) : image;
  const colon = rest.lastIndexOf(":");
  let tag = "latest";
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const repository = !hosted && !rest.includes("/") ? `library/${rest}` : rest;
  return { registry, repository, tag };
}

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Plain HTTP only for a registry on this machine (as Docker allows for localhost). */
const schemeOf = (registry: string) =>
  /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(registry) ? "http" : "https";

export interface DigestOutcome {
  /** sha256:… when the registry answered. */
  digest?: string;
  /** Why not, when it did not: "could not resolve digest (…)". */
  note?: string;
}

function bearerChallenge(header: string | null): { realm: string; params: URLSearchParams } | undefined {
  if (!header?.toLowerCase().startsWith("bearer ")) return undefined;
  const fields = Object.fromEntries(
    [...header.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1].toLowerCase(), m[2]]),
  );
  if (!fields.realm) return undefined;
  const params = new URLSearchParams();
  if (fields.service) params.set("service", fields.service);
  if (fields.scope) params.set("scope", fields.scope);
  return { realm: fields.realm, params };
}

export interface RegistryCredentials {
  username: string;
  password: string;
}
const basic = (c: RegistryCredentials) =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

async function bearerToken(
  header: string | null,
  creds: RegistryCredentials | undefined,
  signal: AbortSignal,
): Promise<string | undefined> {
  const ch = bearerChallenge(header);
  if (!ch) return undefined;
  const res = await fetch(`${ch.realm}?${ch.params}`, {
    signal,
    ...(creds ? { headers: { Authorization: basic(creds) } } : {}),
  });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}

/** The digest a tag points at now; undefined for an image already pinned by digest. */
export async function resolveDigest(
  image: string,
  timeoutMs = 5000,
  credentials: (registry: string) => RegistryCredentials | undefined = () => undefined,
): Promise<DigestOutcome | undefined> {
  if (image.includes("@sha256:")) return undefined;
  const ref = parseImageRef(image);
  const url = `${schemeOf(ref.registry)}://${ref.registry}/v2/${ref.repository}/manifests/${ref.tag}`;
  const signal = AbortSignal.timeout(timeoutMs);
  const fail = (why: string) => ({ note: `could not resolve digest (${why}); the revision records the tag` });
  try {
    let res = await fetch(url, { method: "HEAD", headers: { Accept: ACCEPT }, signal });
    if (res.status === 401) {
      const creds = credentials(ref.registry);
      const challenge = res.headers.get("www-authenticate");
      const authorization = /^basic\b/i.test(challenge ?? "")
        ? creds && basic(creds)
        : await bearerToken(challenge, creds, signal).then((t) => t && `Bearer ${t}`);
      if (!authorization)
        return fail(
          creds
            ? `${ref.registry} refused the credentials for ${ref.registry}`
            : `${ref.registry} asks for credentials (none in the target's registry or ~/.docker/config.json)`,
        );
      res = await fetch(url, {
        method: "HEAD",
        headers: { Accept: ACCEPT, Authorization: authorization },
        signal,
      });
      if (res.status === 401 || res.status === 403)
        return fail(`${ref.registry} refused the credentials for ${ref.registry}`);
    }
    const digest = res.headers.get("docker-content-digest");
    if (res.ok && digest?.startsWith("sha256:")) return { digest };
    if (res.ok) return fail(`${ref.registry} sent no Docker-Content-Digest header`);
    return fail(`${ref.registry} answered ${res.status} for ${ref.repository}:${ref.tag}`);
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === "TimeoutError" || err.name === "AbortError")
      return fail(`${ref.registry} did not answer within ${Math.round(timeoutMs / 100) / 10}s`);
    return fail(`${ref.registry}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  }
}

/** The reference pods run: the tag kept for people, the digest for the runtime (`repo:tag@sha256:…`). */
export const pinned = (image: string, digest: string) => `${image}@${digest}`;

/** The image, pinned to the digest its tag points at now (or, for a rollback, the recorded one). */
export async function imageArtifact(
  ctx: { target: RegistryTarget & { resolveDigests?: boolean }; logger: Logger; timeoutMs?: number },
  service: string,
  image: string,
  revision: number,
  opts: PrepareOptions = {},
): Promise<Artifact> {
  const recorded = opts.recorded;
  if (opts.existingOnly && recorded?.image === image && typeof recorded.ref === "string")
    return { service, revision, ref: recorded.ref, record: recorded };
  if (opts.existingOnly || ctx.target.resolveDigests === false) return { service, revision, ref: image };
  const out = await resolveDigest(image, ctx.timeoutMs, (r) => credentialsFor(ctx.target, r));
  if (!out) return { service, revision, ref: image };
  if (out.digest) {
    const ref = pinned(image, out.digest);
    return { service, revision, ref, record: { image, digest: out.digest, ref } };
  }
  ctx.logger.warn(`${service}: ${out.note}`);
  return { service, revision, ref: image, record: { image, note: out.note } };
}
