// 데이터베이스 성능 튜닝 (weekly): refresh the planner statistics (ANALYZE) of the education
// database and list the tables that need attention — dead rows to vacuum, sequential scans where
// an index may be missing. Needs psql on PATH; AZURE_SQL_CONNECTION comes from the env file.
import { spawnSync } from "node:child_process";

const url = process.env.AZURE_SQL_CONNECTION;
if (!url) {
  console.log("AZURE_SQL_CONNECTION is not set");
  process.exit(1);
}
function libpq(u) {
  const d = decodeURIComponent;
  return {
    PGHOST: u.hostname,
    PGPORT: u.port || "5432",
    PGDATABASE: d(u.pathname.slice(1)) || "postgres",
    ...(u.username ? { PGUSER: d(u.username) } : {}),
    ...(u.password ? { PGPASSWORD: d(u.password) } : {}),
    ...(u.searchParams.get("sslmode") ? { PGSSLMODE: u.searchParams.get("sslmode") } : {}),
  };
}
const sql = `ANALYZE;
SELECT relname AS table, n_live_tup AS rows, n_dead_tup AS dead_rows, seq_scan, idx_scan
  FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, seq_scan DESC LIMIT 10;`;
// The URL goes to psql through its environment, never its command line (ps shows that).
const r = spawnSync("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-c", sql], {
  encoding: "utf8",
  env: { ...process.env, ...libpq(new URL(url)) },
});
process.stdout.write(r.stdout);
process.stderr.write(r.stderr);
process.exit(r.status ?? 1);
