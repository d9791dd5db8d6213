// `npm run lint`: a deliberately small linter (no dependencies) — every .js file must parse
// as a module (node --check), have no trailing whitespace and no leftover debug statement.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const roots = ["src", "test", "scripts"];
const DEBUG_STATEMENT = new RegExp(`\\b${"debug"}ger\\b`);
const problems = [];
for (const root of roots)
  for (const name of readdirSync(root)) {
    if (!name.endsWith(".js")) continue;
    const file = join(root, name);
    const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
    if (check.status !== 0) problems.push(`${file}: ${check.stderr.trim().split("\n")[0]}`);
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (/\s+$/.test(line)) problems.push(`${file}:${i + 1}: trailing whitespace`);
        if (DEBUG_STATEMENT.test(line)) problems.push(`${file}:${i + 1}: debug statement left in`);
      });
  }
for (const p of problems) console.error(p);
console.log(problems.length ? `${problems.length} problem(s)` : "lint: ok");
process.exit(problems.length ? 1 : 0);
