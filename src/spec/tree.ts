/** Small helpers over the plain YAML tree (objects, arrays, strings) that resolve() works on. */
import type { PathSegment } from "./load.js";

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else in `over` replaces `base` (lists are not concatenated). */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

export function getIn(obj: unknown, path: PathSegment[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** A copy of the tree with every string replaced by `fn(string, its path)`. */
export function walk(
  v: unknown,
  path: PathSegment[],
  fn: (s: string, path: PathSegment[]) => unknown,
): unknown {
  if (typeof v === "string") return fn(v, path);
  if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i], fn));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k], fn);
    return out;
  }
  return v;
}

/** An interpolated string that is a whole number or boolean becomes one (`port: ${PORT}`). */
export function coerce(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === "true") return true;
  if (v === "false") return false;
  return v;
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
