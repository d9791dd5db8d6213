/** `redis`: AUTH (when the URL has a password), then PING must answer PONG. */
import { describeUrl } from "../util/redact.js";
import { pingRedis } from "../health/redis.js";
import type { RedisCheckSpec } from "../spec/schema-checks.js";
import { attempt } from "./attempt.js";
import type { CheckOutcome, CheckRun } from "./types.js";

export function redisCheck(spec: RedisCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  return attempt(async () => {
    const r = await pingRedis(spec.url, run.timeoutMs, run.signal);
    return `Redis at ${describeUrl(spec.url)} answered PONG in ${Math.round(r.durationMs)}ms`;
  });
}
