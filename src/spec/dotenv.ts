/** Minimal, strict .env parsing (KEY=value, quotes, comments, export prefix). */
import { readFileSync } from "node:fs";

export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: expected KEY=value`);
    let v = m[2];
    if (v.startsWith('"')) {
      const end = v.lastIndexOf('"');
      v = v
        .slice(1, end > 0 ? end : undefined)
        .replace(/\\n/g, "\n")
        .replace(/\\"/g, '"');
    } else if (v.startsWith("'")) {
      const end = v.lastIndexOf("'");
      v = v.slice(1, end > 0 ? end : undefined);
    } else {
      v = v.replace(/\s+#.*$/, "").trim();
    }
    out[m[1]] = v;
  }
  return out;
}

export function readDotenv(file: string): Record<string, string> {
  return parseDotenv(readFileSync(file, "utf8"));
}
