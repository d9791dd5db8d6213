/** Compose value syntaxes (interpolation, sizes, durations, names, env and label lists) in Slipway's form. */

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Compose `$VAR` and `$$` to Slipway's `${VAR}` and `$${` (Slipway leaves bare $VAR alone). */
export function convertInterpolation(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== "$") {
      out += c;
      continue;
    }
    const next = s[i + 1];
    if (next === "$") {
      out += s[i + 2] === "{" ? "$$" : "$";
      i++;
    } else if (next !== undefined && /[A-Za-z_]/.test(next)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1)) as RegExpExecArray;
      out += `\${${m[0]}}`;
      i += m[0].length;
    } else out += c;
  }
  return out;
}

/** Compose sizes are binary (1g = 1024³): "64G" → "64Gi", "512m" → "512Mi", "1gb" → "1Gi". */
export function composeSize(v: unknown): string | number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt])?b?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  return unit === "b" ? Number(m[1]) : `${m[1]}${unit.toUpperCase()}i`;
}

/** Compose durations ("1m30s", "10s", "1h", "500ms", "2m3s4ms") to Slipway's single-unit form. */
export function composeDuration(v: unknown): string | undefined {
  if (typeof v === "number") return `${v}s`;
  if (typeof v !== "string") return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };
  let ms = 0;
  let rest = v.trim();
  if (!rest) return undefined;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * (units[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  ms = Math.round(ms);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A Compose name as a Slipway name (lower-case letters, digits, - or _); "" when nothing is left. */
export function slipwayName(n: string): string {
  return n
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
}

export function shellJoin(words: string[]): string {
  return words
    .map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

export function labelsOf(v: unknown): Record<string, string> {
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? "")]));
  if (Array.isArray(v))
    return Object.fromEntries(
      v.map((x) => {
        const [k, ...rest] = String(x).split("=");
        return [k as string, rest.join("=")];
      }),
    );
  return {};
}

/** A Compose environment (map or KEY=VALUE list); `bad` is told about keys that are not scalars. */
export function envOf(v: unknown, bad: (key: string) => void): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const put = (k: string, x: unknown) => {
    // A bare name passes the variable through from the environment Slipway runs in.
    if (x === null || x === undefined) out[k] = `\${${k}}`;
    else if (typeof x === "number" || typeof x === "boolean") out[k] = x;
    else if (typeof x === "string") out[k] = convertInterpolation(x);
    else bad(k);
  };
  if (isObj(v)) for (const [k, x] of Object.entries(v)) put(k, x);
  else if (Array.isArray(v))
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf("=");
      if (i < 0) put(s, null);
      else put(s.slice(0, i), s.slice(i + 1));
    }
  return out;
}
