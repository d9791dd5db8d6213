/** Turns zod issues into SpecIssues with positions, plain-language messages and suggestions. */
import type { z } from "zod";
import type { SpecIssue } from "../errors.js";
import type { LoadedSpec, PathSegment } from "./load.js";
import { didYouMean } from "./suggest.js";

type AnyZod = z.ZodType;
interface Def {
  type: string;
  shape?: Record<string, AnyZod>;
  innerType?: AnyZod;
  in?: AnyZod;
  out?: AnyZod;
  element?: AnyZod;
  valueType?: AnyZod;
  options?: AnyZod[];
}
const def = (s: AnyZod): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a path can lead to (several when unions are involved). */
function schemasAt(schema: AnyZod, path: PathSegment[]): AnyZod[] {
  let current: AnyZod[] = [schema];
  const unwrap = (s: AnyZod): AnyZod[] => {
    const d = def(s);
    switch (d.type) {
      case "optional":
      case "default":
      case "prefault":
      case "nullable":
      case "readonly":
        return unwrap(d.innerType as AnyZod);
      case "pipe":
        return unwrap(d.in as AnyZod);
      case "union":
        return (d.options ?? []).flatMap(unwrap);
      default:
        return [s];
    }
  };
  current = current.flatMap(unwrap);
  for (const seg of path) {
    const next: AnyZod[] = [];
    for (const s of current) {
      const d = def(s);
      if (d.type === "object" && d.shape && typeof seg === "string" && d.shape[seg]) next.push(d.shape[seg]);
      else if (d.type === "record" && d.valueType) next.push(d.valueType);
      else if (d.type === "array" && d.element) next.push(d.element);
    }
    current = next.flatMap(unwrap);
  }
  return current;
}

export function knownKeys(schema: AnyZod, path: PathSegment[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const d = def(s);
    if (d.type === "object" && d.shape) for (const k of Object.keys(d.shape)) keys.add(k);
  }
  return [...keys];
}

/** What a YAML value is, in the file's terms (never the value: it may hold a secret). */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`; // string, number, boolean
}

/** The forms a union allows, when its branches say so at the value itself ("process", "docker", …). */
function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string {
  const values: unknown[] = [];
  const types = new Set<string>();
  for (const branch of issue.errors)
    for (const i of branch) {
      if (i.path.length) continue;
      if (i.code === "invalid_value") values.push(...i.values);
      else if (i.code === "invalid_type") types.add(i.expected);
    }
  if (!values.length) return "value does not match any allowed form";
  const forms = [
    ...values.map((v) => JSON.stringify(v)),
    ...[...types].map((t) => `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`),
  ];
  const words = values.filter((v): v is string => typeof v === "string");
  const hint = typeof issue.input === "string" ? didYouMean(issue.input, words) : "";
  return `expected one of ${forms.join(", ")}${hint}`;
}

/** Parse issues need `reportInput: true` (zod leaves the input out otherwise). */
function message(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? `required (expected ${issue.expected})`
        : `expected ${issue.expected}, got ${kindOf(issue.input)}`;
    case "invalid_union":
      return unionMessage(issue);
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

export interface PathMapper {
  /** Where in the file a path of the validated object came from. */
  (path: PathSegment[]): PathSegment[];
}

export function zodIssuesToSpecIssues(
  schema: AnyZod,
  issues: z.core.$ZodIssue[],
  loaded: LoadedSpec,
  mapPath: PathMapper = (p) => p,
): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(schema, path);
      for (const key of issue.keys) {
        const full = [...path, key];
        const pos = loaded.locate(mapPath(full), true);
        out.push({
          file: loaded.file,
          ...pos,
          path: mapPath(full).join("."),
          message: `unknown key "${key}"${didYouMean(key, known)}`,
        });
      }
      continue;
    }
    const filePath = mapPath(path);
    const pos = loaded.locate(filePath);
    out.push({ file: loaded.file, ...pos, path: filePath.join("."), message: message(issue) });
  }
  return out;
}
