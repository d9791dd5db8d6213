/** Exec probe: a shell command in the instance's directory; exit 0 is healthy. */
import type { Probe, ProbeResult, ProbeTarget } from "./probe.js";
import { lastLines, runShell } from "./shell.js";

export class ExecProbe implements Probe {
  readonly kind = "exec";
  constructor(private readonly command: string) {}

  async check(target: ProbeTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ProbeResult> {
    const r = await runShell(this.command, {
      cwd: target.cwd ?? process.cwd(),
      env: { ...process.env, ...target.env },
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      tailBytes: 1024,
    });
    const out = lastLines(r.tail, 3);
    const how = r.aborted ?? (r.code !== null ? `exit ${r.code}` : `killed by ${r.signal}`);
    return {
      ok: !r.aborted && r.code === 0,
      message: `${how} in ${Math.round(r.durationMs)}ms${out ? `: ${out}` : ""}`,
      durationMs: r.durationMs,
    };
  }
}
