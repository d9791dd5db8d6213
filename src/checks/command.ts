/** `command`: a shell command (npm test, npm audit …) in the spec's directory; exit 0 passes. */
import { resolve } from "node:path";
import { lastLines, runShell } from "../health/shell.js";
import { formatMs } from "../health/signal.js";
import type { CommandCheckSpec } from "../spec/schema-checks.js";
import { failed, passed, type CheckOutcome, type CheckRun } from "./types.js";

const TAIL_LINES = 20;

export async function commandCheck(spec: CommandCheckSpec, run: CheckRun): Promise<CheckOutcome> {
  const cwd = resolve(run.ctx.cwd, spec.cwd ?? ".");
  const r = await runShell(spec.run, {
    cwd,
    env: { ...(run.ctx.env ?? process.env), ...run.ctx.vars, ...spec.env },
    timeoutMs: run.timeoutMs,
    signal: run.signal,
    tailBytes: 8192,
  });
  const tail = lastLines(r.tail, TAIL_LINES);
  const how = r.aborted ?? (r.code !== null ? `exit ${r.code}` : `killed by ${r.signal}`);
  const evidence = `${how} in ${formatMs(r.durationMs)}${tail ? `\n${tail}` : ""}`;
  const details = { exitCode: r.code, cwd };
  return !r.aborted && r.code === 0 ? passed(evidence, details) : failed(evidence, details);
}
