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
  /** Index in the merged list → index of the top-level item it comes from (none for added ones). */
  base: Map<number, number>;
}

export interface MergeOptions {
  /** How an entry changes the item it names (default: a deep merge of its fields). */
  merge?: (base: unknown, over: unknown) => unknown;
  /** `enabled: false` in an environment's entry removes the item (checks; rules keep theirs). */
  dropDisabled?: boolean;
}

export function mergeByName(base: unknown, overrides: unknown, opts: MergeOptions = {}): MergedByName {
  const origin = new Map<number, number>();
  const baseIndex = new Map<number, number>();
  if (!Array.isArray(overrides) || !overrides.length) return { list: base, origin, base: baseIndex };
  const merge = opts.merge ?? deepMerge;
  const items: { value: unknown; from?: number; at?: number }[] = Array.isArray(base)
    ? base.map((value, at) => ({ value, at }))
    : [];
  overrides.forEach((o, j) => {
    const name = isObj(o) ? o.name : undefined;
    const i = name === undefined ? -1 : items.findIndex((r) => isObj(r.value) && r.value.name === name);
    if (i >= 0) items[i] = { value: merge(items[i].value, o), from: j, at: items[i].at };
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
    if (it.at !== undefined) baseIndex.set(list.length, it.at);
    list.push(value);
  }
  return { list, origin, base: baseIndex };
}

/**
 * Where a merged item's field lives in the file: the environment's entry when it sets the field
 * or added the item (a field it lacks is reported on the entry), else the top-level item it
 * came from (whose index differs when an earlier item was dropped).
 */
export function overridePath(
  section: string,
  path: PathSegment[],
  env: string,
  merged: Pick<MergedByName, "origin" | "base">,
  overrides: unknown,
): PathSegment[] | undefined {
  if (path[0] !== section || typeof path[1] !== "number") return undefined;
  const j = merged.origin.get(path[1]);
  const b = merged.base.get(path[1]);
  const top = b === undefined ? undefined : [section, b, ...path.slice(2)];
  if (j === undefined || !Array.isArray(overrides)) return top;
  const o = overrides[j] as Record<string, unknown> | undefined;
  const field = path[2];
  const set = field === undefined || (isObj(o) && typeof field === "string" && field in o);
  if (!set && top) return top;
  return ["environments", env, section, j, ...path.slice(2)];
}

/**
 * `environments.ENV.analysis` over the top-level `analysis:`: its settings (interval, bake,
 * watch) deep-merged, its `metrics` merged by name (over the default metrics when the top level
 * names none; `enabled: false` leaves one out; `metrics: []` turns analysis off here).
 */
export function mergeAnalysis(
  base: unknown,
  over: unknown,
  defaults: readonly unknown[],
): { value: unknown; metrics: Map<number, number> } {
  if (!isObj(over)) return { value: base, metrics: new Map() };
  const top = isObj(base) ? base : {};
  const { metrics: overMetrics, ...settings } = over;
  const value = deepMerge(top, settings) as Record<string, unknown>;
  if (overMetrics === undefined) return { value, metrics: new Map() };
  if (Array.isArray(overMetrics) && overMetrics.length === 0)
    return { value: { ...value, metrics: [] }, metrics: new Map() };
  const m = mergeByName(top.metrics ?? defaults, overMetrics, { dropDisabled: true });
  return { value: { ...value, metrics: m.list }, metrics: m.origin };
}

/** Where a merged analysis field lives in the file: the environment's analysis when it sets it. */
export function analysisPath(
  path: PathSegment[],
  env: string,
  metrics: Map<number, number>,
  over: unknown,
): PathSegment[] | undefined {
  if (path[0] !== "analysis" || !isObj(over)) return undefined;
  if (path[1] === "metrics") {
    const inner = overridePath(
      "metrics",
      path.slice(1),
      env,
      { origin: metrics, base: new Map() },
      over.metrics,
    );
    return inner && ["environments", env, "analysis", ...inner.slice(2)];
  }
  const key = path[1];
  return typeof key === "string" && key in over ? ["environments", env, ...path] : undefined;
}
