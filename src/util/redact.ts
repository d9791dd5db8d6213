/**
 * The one redactor: everything Slipway prints, stores or sends (journal steps, revision reasons,
 * events, alerts, --json documents, errors, log excerpts, backup records) goes through it.
 * It knows every resolved secret value of the environment; it also hides any URL's password
 * and password-like query parameters, whatever their value.
 */

export type Redactor = (text: string) => string;

/** What replaces a secret. */
export const MASK = "***";

/**
 * Values this long are replaced wherever they appear; shorter ones ("1", "dev") would rewrite
 * ordinary words, so they are replaced only where a secret sits: after `=` or `:` up to a
 * delimiter (NAME=abc, ?password=abc, user:abc@host).
 */
export const MIN_ANYWHERE = 6;

const QUERY_SECRET =
  /([?&;](?:password|pass|pwd|passwd|token|secret|key|sig|signature|sslpassword|api[_-]?key|access[_-]?token)=)[^&\s"'#]*/gi;
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:"']*):([^\s/@"']*)@/gi;

/** postgres://app:s3cret@db/x → postgres://app:***@db/x; ?password=… → ?password=***. */
export function redactUrl(text: string): string {
  return text
    .replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
    .replace(QUERY_SECRET, `$1${MASK}`);
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

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Values every configuration holds that are no one's secret: an env file's NODE_ENV=development
 * or LOG_LEVEL=warning must not turn "development" into *** in release paths and step messages.
 */
const PLAIN_WORD =
  /^(development|dev|staging|stage|production|prod|test|testing|local|true|false|yes|no|on|off|debug|info|warn|warning|error|critical|none|null|json|text)$/i;

/** Where short `values` count as secrets: right after `=` or `:`, up to a delimiter (group 1: the `=`/`:`). */
export function shortValuePattern(values: string[]): RegExp {
  return new RegExp(`([=:])(?:${values.map(escapeRe).join("|")})(?=$|[\\s&@;,"'/#)\\]}])`, "g");
}

/** The forms a value takes in text: as is, and escaped inside a JSON string. */
function forms(v: string): string[] {
  const json = JSON.stringify(v).slice(1, -1);
  return json === v ? [v] : [v, json];
}

/**
 * A redactor that knows `secrets` (values; empty ones ignored). `anywhere`: values the user named
 * as secret (an `env` check's variables), replaced wherever they appear, whatever their length.
 */
export function makeRedactor(
  secrets: Iterable<string | undefined>,
  opts: { anywhere?: Iterable<string> } = {},
): Redactor {
  const values = [...new Set([...secrets].filter((s): s is string => !!s && !PLAIN_WORD.test(s)))].flatMap(
    forms,
  );
  const named = [...(opts.anywhere ?? [])].filter((s) => !!s).flatMap(forms);
  const long = [...new Set([...named, ...values.filter((v) => v.length >= MIN_ANYWHERE)])].sort(
    (a, b) => b.length - a.length,
  );
  const short = [...new Set(values.filter((v) => v.length < MIN_ANYWHERE))].sort(
    (a, b) => b.length - a.length,
  );
  const shortRe = short.length ? shortValuePattern(short) : undefined;
  return (text: string) => {
    if (!text) return text;
    let out = text;
    for (const v of long) if (out.includes(v)) out = out.split(v).join(MASK);
    if (shortRe) out = out.replace(shortRe, `$1${MASK}`);
    return redactUrl(out);
  };
}

/** The redactor of a resolution: every secret value it resolved. */
export function redactorOf(resolution: { secrets: Map<string, string> } | undefined): Redactor {
  return makeRedactor(resolution ? resolution.secrets.values() : []);
}

/** Every string of a JSON-like value redacted (objects and arrays copied, the rest kept). */
export function redactDeep<T>(value: T, redact: Redactor): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, redact)) as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact);
    return out as T;
  }
  return value;
}

/** The same error with its message (and string details) redacted; class and fields kept. */
export function redactError<E>(e: E, redact: Redactor): E {
  if (!(e instanceof Error)) return e;
  const message = redact(e.message);
  if (message !== e.message) {
    e.message = message;
    if (e.stack) e.stack = redact(e.stack);
  }
  const details = (e as { details?: Record<string, unknown> }).details;
  if (details) (e as { details?: Record<string, unknown> }).details = redactDeep(details, redact);
  return e;
}
