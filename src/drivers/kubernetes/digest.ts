/**
 * Image tags → digests for the recorded revision, by the OCI distribution API
 * (`HEAD /v2/<name>/manifests/<tag>`, the `Docker-Content-Digest` header), anonymously (a Bearer
 * token from the registry's `WWW-Authenticate` realm when it asks for one). When the registry
 * cannot be asked (no network, a timeout, credentials needed), the tag is kept and the reason is
 * said: "could not resolve digest (…)". Images already pinned (`@sha256:`) are never looked up.
 */

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

async function anonymousToken(header: string | null, signal: AbortSignal): Promise<string | undefined> {
  const ch = bearerChallenge(header);
  if (!ch) return undefined;
  const res = await fetch(`${ch.realm}?${ch.params}`, { signal });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}

/** The digest a tag points at now; undefined for an image already pinned by digest. */
export async function resolveDigest(image: string, timeoutMs = 5000): Promise<DigestOutcome | undefined> {
  if (image.includes("@sha256:")) return undefined;
  const ref = parseImageRef(image);
  const url = `${schemeOf(ref.registry)}://${ref.registry}/v2/${ref.repository}/manifests/${ref.tag}`;
  const signal = AbortSignal.timeout(timeoutMs);
  const fail = (why: string) => ({ note: `could not resolve digest (${why}); the revision records the tag` });
  try {
    let res = await fetch(url, { method: "HEAD", headers: { Accept: ACCEPT }, signal });
    if (res.status === 401) {
      const token = await anonymousToken(res.headers.get("www-authenticate"), signal);
      if (!token) return fail(`${ref.registry} asks for credentials`);
      res = await fetch(url, {
        method: "HEAD",
        headers: { Accept: ACCEPT, Authorization: `Bearer ${token}` },
        signal,
      });
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
