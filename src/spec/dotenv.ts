/**
 * .env parsing: the values come from Node's own parser (`util.parseEnv`, the one behind
 * `node --env-file`), so quotes, `export `, comments and multi-line values mean what they
 * mean everywhere else. Node skips lines it cannot read; a deploy must not silently lose a
 * variable, so a line that is neither a comment, an assignment nor part of a quoted
 * multi-line value is refused.
 */
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";

const ASSIGNMENT = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*(.*)$/;

/** Throws `line N: expected KEY=value` for the first line Node would skip without a word. */
function assertWellFormed(lines: string[]): void {
  let openQuote: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (openQuote) {
      if (line.includes(openQuote)) openQuote = undefined;
      continue;
    }
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const m = ASSIGNMENT.exec(trimmed);
    if (!m) throw new Error(`line ${i + 1}: expected KEY=value`);
    const q = m[1][0];
    if ((q === '"' || q === "'" || q === "`") && !m[1].slice(1).includes(q)) openQuote = q;
  }
}

export function parseDotenv(text: string): Record<string, string> {
  const normalized = text.replace(/\r\n?/g, "\n");
  assertWellFormed(normalized.split("\n"));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseEnv(normalized))) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function readDotenv(file: string): Record<string, string> {
  return parseDotenv(readFileSync(file, "utf8"));
}
