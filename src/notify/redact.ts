/** One place that scrubs secrets out of text bound for logs and the delivery log. */

export type Redactor = (text: string) => string;

export function makeRedactor(secrets: Iterable<string>, extra?: Redactor): Redactor {
  const list = [...new Set([...secrets].filter((s) => s && s.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
  return (text: string) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join("***");
    // Credentials in any URL (user:password@) and common token query parameters.
    out = out.replace(/\/\/([^/\s:@]+):([^@\s/]+)@/g, "//$1:***@");
    out = out.replace(/([?&](?:token|key|secret|password|sig|signature)=)[^&\s]+/gi, "$1***");
    return extra ? extra(out) : out;
  };
}
