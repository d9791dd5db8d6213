/** `http`: a URL answers with expectStatus (default any 2xx/3xx). */
import { httpGet, statusOk } from "../health/http.js";
import { describeUrl } from "../util/redact.js";
import type { HttpCheckSpec } from "../spec/schema-checks.js";
import { attempt } from "./attempt.js";
import type { CheckOutcome, CheckRun } from "./types.js";

export function httpCheck(spec: HttpCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  return attempt(async () => {
    if (!spec.url) throw new Error("no URL (empty: is the ${VAR} it comes from set?)");
    const r = await httpGet(spec.url, { method: spec.method, timeoutMs: run.timeoutMs, signal: run.signal });
    const what = `${spec.method} ${describeUrl(spec.url)} → HTTP ${r.status} in ${Math.round(r.durationMs)}ms`;
    if (!statusOk(r.status, spec.expectStatus)) {
      throw new Error(`${what}, expected ${spec.expectStatus ?? "2xx/3xx"}`);
    }
    return what;
  });
}
