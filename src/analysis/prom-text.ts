/**
 * A reader for the Prometheus text exposition format (version 0.0.4) and a selector such as
 * `http_requests_total{code=~"5..",method!="GET"}`: enough to read a service's /metrics.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Matcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
  re?: RegExp;
}

export interface Selector {
  name: string;
  matchers: Matcher[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parse `name{label="v",…}`. Throws an Error naming the problem. */
export function parseSelector(text: string): Selector {
  const s = text.trim();
  const m = NAME.exec(s);
  if (!m)
    throw new Error(`"${text}" is not a metric selector (expected a metric name, e.g. http_errors_total)`);
  const name = m[0];
  let rest = s.slice(name.length).trim();
  if (rest === "") return { name, matchers: [] };
  if (!rest.startsWith("{") || !rest.endsWith("}"))
    throw new Error(`"${text}": expected {label="value",…} after the metric name`);
  rest = rest.slice(1, -1);
  const matchers: Matcher[] = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let pos = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const mm = re.exec(rest);
    if (!mm) throw new Error(`"${text}": cannot read the label matcher at "${rest.slice(pos)}"`);
    const matcher: Matcher = { label: mm[1], op: mm[2] as Matcher["op"], value: unescape(mm[3]) };
    if (matcher.op === "=~" || matcher.op === "!~") {
      try {
        matcher.re = new RegExp(`^(?:${matcher.value})$`);
      } catch {
        throw new Error(`"${text}": invalid regular expression "${matcher.value}"`);
      }
    }
    matchers.push(matcher);
    pos = re.lastIndex;
    if (pos === 0) break;
  }
  return { name, matchers };
}

export function matches(sel: Selector, s: Sample): boolean {
  if (s.name !== sel.name) return false;
  return sel.matchers.every((m) => {
    const v = s.labels[m.label] ?? "";
    switch (m.op) {
      case "=":
        return v === m.value;
      case "!=":
        return v !== m.value;
      case "=~":
        return m.re!.test(v);
      case "!~":
        return !m.re!.test(v);
    }
  });
}

/** Parse the text format. Lines that cannot be read are skipped (one bad line must not hide the rest). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = NAME.exec(line);
    if (!m) continue;
    const name = m[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      const end = labelsEnd(rest);
      if (end < 0) continue;
      const body = rest.slice(1, end);
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
      let lm: RegExpExecArray | null;
      while ((lm = re.exec(body)) && lm[0] !== "") labels[lm[1]] = unescape(lm[2]);
      rest = rest.slice(end + 1);
    }
    const parts = rest.trim().split(/\s+/);
    const value = parseValue(parts[0]);
    if (value === undefined) continue;
    out.push({ name, labels, value });
  }
  return out;
}

function labelsEnd(s: string): number {
  let inQuote = false;
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === "}") return i;
  }
  return -1;
}

function parseValue(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v === "NaN") return Number.NaN;
  const n = Number(v);
  return Number.isNaN(n) ? undefined : n;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}
