// 에러 로그 검토 (daily): error lines each service logged in the last SINCE (default 24h), with the
// latest few, for the person on duty to read in the report. Exits 0: the review is theirs.
import { containers, env, logs } from "./containers.mjs";

const since = process.argv[2] || "24h";
const list = containers();
if (!list.length) {
  console.log(`no running containers of ai-education-platform in ${env}`);
  process.exit(1);
}
for (const c of list) {
  const errors = logs(c.id, since)
    .split("\n")
    .filter((l) => /\b(error|exception|fatal)\b/i.test(l));
  console.log(`${c.service}: ${errors.length} error line(s) in ${since}`);
  for (const l of errors.slice(-3)) console.log(`  ${l.slice(0, 200)}`);
}
