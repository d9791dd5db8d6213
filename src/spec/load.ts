/** Reads slipway.yaml keeping positions, so every error can name file:line:column. */
import { readFileSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node } from "yaml";
import { SpecError } from "../errors.js";
import { guardStructure, toJSGuarded } from "./yaml-guards.js";

export type PathSegment = string | number;

export interface LoadedSpec {
  file: string;
  dir: string;
  text: string;
  raw: unknown;
  /** Position of the value at `path` (or of its key when `key` is true). */
  locate(path: PathSegment[], key?: boolean): { line: number; column: number } | undefined;
}

export function loadSpecFile(file: string): LoadedSpec {
  const abs = resolvePath(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError([
      {
        file,
        path: "",
        message:
          code === "ENOENT"
            ? "spec file not found (create one with `slipway init`, or pass -f FILE)"
            : `cannot read spec file: ${code ?? String(e)}`,
      },
    ]);
  }
  return parseSpecText(text, abs);
}

export function parseSpecText(text: string, file: string): LoadedSpec {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // The first errors say what is wrong; the rest are usually echoes of the first.
    throw new SpecError(
      doc.errors.slice(0, 3).map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          path: "",
          message: `YAML: ${e.message.split("\n")[0]}`,
        };
      }),
    );
  }
  guardStructure(doc, lc, file);
  const raw: unknown = toJSGuarded(doc, lc, file);
  const locate = (path: PathSegment[], key = false) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        keyNode = undefined;
      } else break;
    }
    // A key without a value (`replicas:`) has no value node: its key stands for it; an empty
    // document has no node at all: its first line does.
    const target = (key && keyNode ? keyNode : node) as Node | undefined;
    const offset = target?.range?.[0] ?? (keyNode as Node | undefined)?.range?.[0] ?? 0;
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return { file, dir: dirname(file), text, raw, locate };
}
