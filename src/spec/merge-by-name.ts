/**
 * An environment's entries of a top-level list merged by name (`rules:` and `checks:` under
 * `environments.ENV`): an entry naming an item of the top-level list changes the fields it
 * gives (production stricter than staging), `enabled: false` drops the item in this
 * environment, and an entry with a new name is added at the end.
 */
import type { PathSegment } from "./load.js";
import { deepMerge, isObj } from "./tree.js";

export interface MergedByName {
  list: unknown;
  /** Index in the merged list → index of the environment's entry that set it. */
  origin: Map<number, number>;
}

export interface MergeOptions {
  /** How an entry changes the item it names (default: a deep merge of its fields). */
  merge?: (base: unknown, over: unknown) => unknown;
  /** `enabled: false` in an environment's entry removes the item (checks; rules keep theirs). */
  dropDisabled?: boolean;
}

export function mergeByName(base: unknown, overrides: unknown, opts: MergeOptions = {}): MergedByName {
  const origin = new Map<number, number>();
  if (!Array.isArray(overrides) || !overrides.length) return { list: base, origin };
  const merge = opts.merge ?? deepMerge;
  const items: { value: unknown; from?: number }[] = Array.isArray(base)
    ? base.map((value) => ({ value }))
    : [];
  overrides.forEach((o, j) => {
    const name = isObj(o) ? o.name : undefined;
    const i = name === undefined ? -1 : items.findIndex((r) => isObj(r.value) && r.value.name === name);
    if (i >= 0) items[i] = { value: merge(items[i].value, o), from: j };
    else items.push({ value: o, from: j });
  });
  const list: unknown[] = [];
  for (const it of items) {
    let value = it.value;
    if (opts.dropDisabled && it.from !== undefined && isObj(value) && "enabled" in value) {
      if (value.enabled === false) continue;
      const { enabled: _, ...rest } = value;
      value = rest;
    }
    if (it.from !== undefined) origin.set(list.length, it.from);
    list.push(value);
  }
  return { list, origin };
}

/** Where a merged item's field lives in the file: the environment's entry when it sets the field. */
export function overridePath(
  section: string,
  path: PathSegment[],
  env: string,
  origin: Map<number, number>,
  overrides: unknown,
): PathSegment[] | undefined {
  if (path[0] !== section || typeof path[1] !== "number") return undefined;
  const j = origin.get(path[1]);
  if (j === undefined || !Array.isArray(overrides)) return undefined;
  const o = overrides[j] as Record<string, unknown> | undefined;
  const field = path[2];
  if (field !== undefined && !(isObj(o) && typeof field === "string" && field in o)) return undefined;
  return ["environments", env, section, j, ...path.slice(2)];
}
