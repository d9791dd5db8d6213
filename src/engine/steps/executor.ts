/**
 * The one place a step is journaled, timed, redacted and emitted: pending before anything runs
 * (a crash then shows what was planned and not done), running, then ok or failed with its message.
 */
import { errorMessage } from "../../errors.js";
import { crashPoint } from "../../util/crash-hook.js";
import { redactError, redactorOf, type Redactor } from "../../util/redact.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { EngineDeps } from "../context.js";
import type { EventSink } from "../events.js";

/** The journal's view of a step: plan steps and the undo steps added after a failure. */
export interface JournaledStep {
  seq: number;
  kind: string;
  service?: string;
  description: string;
}

/** Secret values never reach the journal (util/redact.ts says how short ones are found). */
export function stepRedactor(resolution: Pick<Resolution, "secrets">): Redactor {
  return redactorOf(resolution);
}

export class StepExecutor {
  constructor(
    private readonly deps: EngineDeps,
    private readonly spec: ResolvedSpec,
    private readonly revision: number,
    private readonly emit: EventSink,
    private readonly redact: Redactor,
  ) {}

  async pending(steps: readonly JournaledStep[]): Promise<void> {
    for (const s of steps)
      await this.deps.store.journalAppend({
        project: this.spec.project,
        env: this.spec.env,
        revision: this.revision,
        seq: s.seq,
        kind: s.kind,
        service: s.service,
        description: s.description,
        status: "pending",
      });
  }

  /** Run one step's work; its failure is journaled and emitted, then rethrown. */
  async run<S extends JournaledStep>(step: S, work: (s: S) => Promise<string | undefined>): Promise<void> {
    const t0 = Date.now();
    const base = {
      type: "step" as const,
      seq: step.seq,
      kind: step.kind,
      service: step.service,
      description: step.description,
    };
    await this.update(step.seq, { status: "running", startedAt: new Date().toISOString() });
    crashPoint(this.revision, step.seq);
    this.emit({ ...base, status: "running" });
    let status: "ok" | "failed" = "ok";
    let message: string | undefined;
    let failure: unknown;
    try {
      message = await work(step);
    } catch (e) {
      [status, message, failure] = ["failed", errorMessage(e), e];
    }
    crashPoint(this.revision, step.seq, true);
    const durationMs = Date.now() - t0;
    if (message !== undefined) message = this.redact(message);
    await this.update(step.seq, { status, finishedAt: new Date().toISOString(), durationMs, message });
    this.emit({ ...base, status, durationMs, message });
    // The error goes on to the CLI, the API and the revision's reason: redacted once, here.
    if (status === "failed") throw redactError(failure, this.redact);
  }

  private update(seq: number, patch: Parameters<EngineDeps["store"]["journalUpdate"]>[4]): Promise<void> {
    return this.deps.store.journalUpdate(this.spec.project, this.spec.env, this.revision, seq, patch);
  }
}
