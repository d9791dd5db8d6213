// Copies non-TypeScript assets (SQL migrations) from src/ to dist/ after tsc.
import { cpSync, existsSync, readdirSync, statSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith(".sql")) {
      const out = join("dist", p.slice("src/".length));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(p, out);
    }
  }
}
if (existsSync("src")) walk("src");
