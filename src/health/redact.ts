/** Keeping secrets out of evidence: URL passwords, and known secret values. */

/** postgres://app:s3cret@db:5432/x → postgres://app:***@db:5432/x (also drops ?password=…). */
export function redactUrl(text: string): string {
  return text
    .replace(
      /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi,
      (_m, scheme: string, user: string) => `${scheme}${user}:***@`,
    )
    .replace(/([?&](?:password|pass|pwd|token|secret|sslpassword)=)[^&\s]*/gi, "$1***");
}

/** Replaces every occurrence of the given secret values (4 characters or more) and URL passwords. */
export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = redactUrl(text);
  const values = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join("***");
  return out;
}

/** A URL shown without its credentials: scheme://host:port/path. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return redactUrl(url);
  }
}
