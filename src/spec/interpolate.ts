/**
 * ${VAR} interpolation, Compose-compatible: ${VAR}, ${VAR:-default}, ${VAR-default},
 * ${VAR:?message}, ${VAR?message}, $VAR is NOT interpolated (shell commands keep it), and
 * $${ escapes a literal ${.
 */
export class InterpolationError extends Error {}

export interface Interpolated {
  value: string;
  /** Variables the text referenced (whether or not they were set). */
  vars: string[];
}

const RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

export function interpolate(
  text: string,
  vars: Record<string, string | undefined>,
  opts: { strict?: boolean } = {},
): Interpolated {
  const strict = opts.strict ?? true;
  const used: string[] = [];
  const value = text.replace(RE, (whole, name: string | undefined, op: string | undefined, arg: string) => {
    if (whole === "$${") return "${";
    const n = name as string;
    used.push(n);
    const v = vars[n];
    switch (op) {
      case ":-":
        return v === undefined || v === "" ? arg : v;
      case "-":
        return v === undefined ? arg : v;
      case ":?":
      case "?":
        if (v === undefined || (op === ":?" && v === "")) {
          if (!strict) return "";
          throw new InterpolationError(arg ? `${n}: ${arg}` : `required variable ${n} is not set`);
        }
        return v;
      default:
        return v ?? "";
    }
  });
  return { value, vars: used };
}

export function hasReference(text: string): boolean {
  RE.lastIndex = 0;
  const m = RE.exec(text);
  RE.lastIndex = 0;
  return m !== null && m[0] !== "$${";
}
