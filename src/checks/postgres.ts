/** `postgres`: a real connection (startup, authentication) and `select 1`. */
import { pingPostgres } from "../health/postgres.js";
import { describeUrl } from "../util/redact.js";
import type { PostgresCheckSpec } from "../spec/schema-checks.js";
import { attempt } from "./attempt.js";
import type { CheckOutcome, CheckRun } from "./types.js";

export function postgresCheck(spec: PostgresCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  return attempt(async () => {
    const r = await pingPostgres(spec.url, run.timeoutMs, run.signal);
    return `PostgreSQL ${r.serverVersion} at ${describeUrl(spec.url)} answered select 1 in ${Math.round(r.durationMs)}ms`;
  });
}
