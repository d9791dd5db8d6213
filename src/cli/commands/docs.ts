import type { Cli } from "../runtime.js";
import { loadSpecExtras } from "../../core.js";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(" \\| ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(" \\| ");
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && !s.properties && typeof s.additionalProperties === "object")
    return `map of ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(" \\| ") : (s.type ?? "any");
}

/** Markdown reference of every field of slipway.yaml, from the schema's descriptions. */
export async function referenceMarkdown(): Promise<string> {
  const { jsonSchema } = await loadSpecExtras();
  const lines = [
    "# slipway.yaml reference",
    "",
    "Generated from the schema by `slipway docs` — do not edit by hand. Durations: `500ms`, `5s`, `1m30s`, `2h`, `30d`;",
    "sizes: `512Mi`, `2Gi`; percentages: `90%`. Every string may use `${VAR}`, `${VAR:-default}` and `${VAR:?message}`.",
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
  ];
  const seen = new Set<string>();
  const walk = (s: JsonSchema, path: string, depth: number) => {
    if (depth > 8) return;
    const alts = s.anyOf ?? s.oneOf;
    if (alts) {
      for (const a of alts) if (a.properties || a.additionalProperties || a.items) walk(a, path, depth + 1);
    }
    if (s.properties) {
      for (const [k, v] of Object.entries(s.properties)) {
        const p = path ? `${path}.${k}` : k;
        if (!seen.has(p)) {
          seen.add(p);
          const def = v.default === undefined ? "" : `\`${JSON.stringify(v.default)}\``;
          lines.push(
            `| \`${p}\` | ${typeOf(v)} | ${def} | ${(v.description ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ")} |`,
          );
        }
        walk(v, p, depth + 1);
      }
    }
    if (typeof s.additionalProperties === "object") walk(s.additionalProperties, `${path}.<name>`, depth + 1);
    if (s.items) walk(s.items, `${path}[]`, depth + 1);
  };
  walk(jsonSchema() as JsonSchema, "", 0);
  return lines.join("\n") + "\n";
}

export function register(cli: Cli): void {
  cli.program
    .command("docs")
    .description("print the reference of every slipway.yaml field (Markdown), from the schema")
    .action(
      cli.action(async () => {
        process.stdout.write(await referenceMarkdown());
      }),
    );
}
