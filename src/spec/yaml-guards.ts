/**
 * What a spec's YAML may not do, refused before it becomes a JS tree (issue 11, the spec fuzzer):
 * an alias inside the node it names (a cycle), an alias expansion too large (the "billion laughs"),
 * nesting deeper than any spec needs, and keys that would reach an object's prototype.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  visit,
  type Document,
  type LineCounter,
  type Node,
} from "yaml";
import { SpecError } from "../errors.js";

/** Deeper than any spec (chart `values:` included) nests: refused rather than recursed into. */
export const MAX_DEPTH = 64;
/** Alias expansions toJS may make (yaml's own count): a bigger expansion is an attack or a mistake. */
export const MAX_ALIAS_COUNT = 1000;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function fail(file: string, lc: LineCounter, offset: number | undefined, message: string): never {
  const p = lc.linePos(offset ?? 0);
  throw new SpecError([{ file, line: p.line, column: p.col, path: "", message }]);
}

/** Throws a located SpecError for a recursive alias, a too-deep tree or a forbidden key. */
export function guardStructure(doc: Document, lc: LineCounter, file: string): void {
  visit(doc, {
    Alias(_, alias) {
      const target = alias.resolve(doc) as Node | undefined;
      const [start, end] = [target?.range?.[0], target?.range?.[2] ?? target?.range?.[1]];
      const at = alias.range?.[0];
      if (start !== undefined && end !== undefined && at !== undefined && at >= start && at < end)
        fail(file, lc, at, `YAML: alias *${alias.source} refers to a node that contains it (a cycle)`);
    },
    Pair(_, pair) {
      if (isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value)))
        fail(file, lc, pair.key.range?.[0], `YAML: the key "${String(pair.key.value)}" is not allowed`);
    },
  });
  // Depth, without recursion (a deep tree must not exhaust the stack here either).
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > MAX_DEPTH)
      fail(file, lc, node.range?.[0], `YAML: nested more than ${MAX_DEPTH} levels deep; no spec needs that`);
    for (const item of node.items) {
      const value = isPair(item) ? item.value : item;
      if (value && !isAlias(value)) stack.push({ node: value, depth: depth + 1 });
    }
  }
}

/** doc.toJS(), with an alias expansion that is too large refused where its first alias stands. */
export function toJSGuarded(doc: Document, lc: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof ReferenceError) || !/alias/i.test(e.message)) throw e;
    let first: number | undefined;
    visit(doc, {
      Alias(_, a) {
        first = a.range?.[0];
        return visit.BREAK;
      },
    });
    fail(
      file,
      lc,
      first,
      `YAML: the aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT}); refused as a resource exhaustion attack`,
    );
  }
}
