/**
 * runChecks(): the pre-flight checklist. Checks run one after another in the order written
 * (commands such as `npm test` must not compete with each other); each gets its own deadline.
 * A failure of a `severity: warning` check is reported as "warning". Evidence and details are
 * redacted before anyone sees them.
 */
import { describeUrl, makeRedactor, redactDeep, type Redactor } from "../util/redact.js";
import { formatMs } from "../health/signal.js";
import type { CheckKind, CheckSpec } from "../spec/schema-checks.js";
import { commandCheck } from "./command.js";
import { confirmCheck } from "./confirm.js";
import { envCheck } from "./env.js";
import { gpuCheck } from "./gpu.js";
import { httpCheck } from "./http.js";
import { postgresCheck } from "./postgres.js";
import { redisCheck } from "./redis.js";
import { resourcesCheck } from "./resources.js";
import { tcpCheck } from "./tcp.js";
import { tlsCheck } from "./tls.js";
import { secretAgeCheck } from "./secret-age.js";
import type { CheckContext, CheckOutcome, CheckResult, CheckRun } from "./types.js";

/** Per-kind deadline when the check gives no `timeout`. Confirm prompts wait for a human. */
export const DEFAULT_TIMEOUTS: Record<CheckKind, number | undefined> = {
  command: 10 * 60_000,
  env: 5_000,
  tcp: 5_000,
  http: 5_000,
  postgres: 5_000,
  redis: 5_000,
  resources: 5_000,
  gpu: 10_000,
  tls: 5_000,
  confirm: undefined,
  secretAge: 5_000,
};

/** The label a check shows in the checklist. Never contains a URL's credentials. */
export function checkName(c: CheckSpec): string {
  if (c.name) return c.name;
  switch (c.kind) {
    case "command":
      return c.run;
    case "env":
      return c.required.length ? `env ${c.required.join(", ")}` : "env";
    case "tcp":
      return `tcp ${c.address}`;
    case "http":
      return `http ${c.url ? describeUrl(c.url) : "(no URL)"}`;
    case "postgres":
      return `postgres ${c.url ? describeUrl(c.url) : "(no URL)"}`;
    case "redis":
      return `redis ${c.url ? describeUrl(c.url) : "(no URL)"}`;
    case "resources":
      return `resources ${[c.disk && "disk", c.memory && "memory", c.cpu && "cpu"].filter(Boolean).join(", ")}`;
    case "gpu":
      return `gpu ×${c.count}`;
    case "tls":
      return `tls ${c.file ?? c.host}`;
    case "confirm":
      return `confirm ${c.items.length === 1 ? c.items[0] : `${c.items.length} items`}`;
    case "secretAge":
      return `secretAge ${Object.keys(c.maxAge).join(", ")}`;
  }
}

function dispatch(c: CheckSpec, run: CheckRun): Promise<CheckOutcome> {
  switch (c.kind) {
    case "command":
      return commandCheck(c, run);
    case "env":
      return envCheck(c, run);
    case "tcp":
      return tcpCheck(c, run);
    case "http":
      return httpCheck(c, run);
    case "postgres":
      return postgresCheck(c, run);
    case "redis":
      return redisCheck(c, run);
    case "resources":
      return resourcesCheck(c, run);
    case "gpu":
      return gpuCheck(c, run);
    case "tls":
      return tlsCheck(c, run);
    case "confirm":
      return confirmCheck(c, run);
    case "secretAge":
      return secretAgeCheck(c, run);
  }
}

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|_KEY$|^KEY$|DSN|AUTH)/i;

/** What hides every value that must never appear in evidence. */
function evidenceRedactor(checks: CheckSpec[], ctx: CheckContext): Redactor {
  const out = new Set<string>(ctx.secrets ?? []);
  const anywhere = new Set<string>();
  const named = new Set<string>();
  for (const c of checks) {
    if (c.kind === "env") for (const n of [...c.required, ...Object.keys(c.minLength ?? {})]) named.add(n);
  }
  for (const [k, v] of Object.entries(ctx.vars)) {
    // Guessed by name: short values (true, prod) would blank out ordinary words in the evidence.
    if (v && named.has(k)) anywhere.add(v);
    else if (v && SECRET_NAME.test(k)) out.add(v);
  }
  return makeRedactor(out, { anywhere });
}

async function runOne(
  body: (run: CheckRun) => Promise<CheckOutcome>,
  timeoutMs: number | undefined,
  ctx: CheckContext,
): Promise<CheckOutcome> {
  const controller = new AbortController();
  const signals = [controller.signal, ...(ctx.signal ? [ctx.signal] : [])];
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined) {
    timer = setTimeout(
      () => controller.abort(new DOMException(`timed out after ${formatMs(timeoutMs)}`, "TimeoutError")),
      timeoutMs,
    );
  }
  const signal = AbortSignal.any(signals);
  // A check that ignores its signal still cannot hold the checklist past its deadline (plus grace).
  const guard = new Promise<CheckOutcome>((resolve) => {
    const onAbort = () =>
      setTimeout(
        () =>
          resolve({
            status: "failed",
            evidence: ctx.signal?.aborted ? "cancelled" : `timed out after ${formatMs(timeoutMs ?? 0)}`,
          }),
        1000,
      ).unref();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([body({ ctx, signal, timeoutMs: timeoutMs ?? 24 * 3_600_000 }), guard]);
  } catch (e) {
    return { status: "failed", evidence: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(checks: CheckSpec[], ctx: CheckContext): Promise<CheckResult[]> {
  const redact = evidenceRedactor(checks, ctx);
  const results: CheckResult[] = [];
  // The spec's checks first, so result i is check i; then the ones the runner adds by itself.
  const items = [
    ...checks.map((c) => ({
      name: checkName(c),
      kind: c.kind,
      warnOnly: c.severity === "warning",
      timeoutMs: c.timeoutMs ?? DEFAULT_TIMEOUTS[c.kind],
      body: (run: CheckRun) => dispatch(c, run),
    })),
    ...(ctx.automatic ?? []).map((a) => ({
      ...a,
      warnOnly: a.warnOnly ?? false,
      body: (run: CheckRun) => a.run(run),
    })),
  ];
  for (const [i, c] of items.entries()) {
    const name = redact(c.name);
    ctx.onStart?.({ name, kind: c.kind }, i);
    const started = performance.now();
    const outcome: CheckOutcome = ctx.signal?.aborted
      ? { status: "skipped", evidence: "cancelled before it ran" }
      : await runOne(c.body, c.timeoutMs, ctx);
    const status = outcome.status === "failed" && c.warnOnly ? "warning" : outcome.status;
    const result: CheckResult = {
      name,
      kind: c.kind,
      status,
      evidence: redact(outcome.evidence),
      durationMs: Math.round(performance.now() - started),
      ...(outcome.details ? { details: redactDeep(outcome.details, redact) } : {}),
      ...(outcome.summaryLines ? { summaryLines: outcome.summaryLines } : {}),
      ...(outcome.lineStatus ? { lineStatus: outcome.lineStatus } : {}),
    };
    results.push(result);
    ctx.onResult?.(result, i);
  }
  return results;
}

/** ok is false when any check failed (warnings and skips do not stop a deploy). */
export function summarizeChecks(results: CheckResult[]): { ok: boolean; summary: string } {
  const count = (s: CheckResult["status"]) => results.filter((r) => r.status === s).length;
  const failedNames = results.filter((r) => r.status === "failed").map((r) => r.name);
  const parts = [`${count("passed")} passed`];
  if (count("warning")) parts.push(`${count("warning")} warning(s)`);
  if (count("skipped")) parts.push(`${count("skipped")} skipped`);
  if (failedNames.length) parts.push(`${failedNames.length} failed: ${failedNames.join(", ")}`);
  return { ok: failedNames.length === 0, summary: parts.join(", ") };
}
