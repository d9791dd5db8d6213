/**
 * `slipway restore`: one backup back into the live service, under the environment lock.
 *
 * A restore is an operation in the history: a revision row (facts.operation "restore", status
 * "completed" or "failed", never deployed) whose journal has three steps — stage the backup
 * beside the live data, swap it in atomically, settle (drop the data set aside). The token that
 * names the staged data is recorded before anything is staged, so crash recovery
 * (recoverRestore) can finish or undo an interrupted restore and say which data is live.
 */
import type { BackupRecord, RestorePhase } from "../../backup/index.js";
import { errorMessage, OperationFailed, Refused, UsageError } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
import type { Revision } from "../../store/store.js";
import { crashPoint } from "../../util/crash-hook.js";
import { redactorOf } from "../../util/redact.js";
import type { EngineDeps } from "../context.js";
import type { EngineEvent, EventSink } from "../events.js";
import { noopSink } from "../events.js";
import { configFor, requireBackup, withBackups, withLock } from "./catalog.js";

/** Why a restore without --yes is refused (the CLI asks at a terminal and then sends yes). */
export function restoreRefusal(spec: ResolvedSpec, id: string, service?: string): string {
  if (spec.protect?.confirm)
    return `environment "${spec.env}" is protected: restore needs --yes (nothing was changed)`;
  return `restoring ${id} replaces the live data${service ? ` of ${service}` : ""} in ${spec.env}: confirm at a terminal or pass --yes (nothing was changed)`;
}

/** The journal steps of a restore, one per phase of the staged restore. */
export const RESTORE_STEPS: Record<RestorePhase, { seq: number; kind: string; what: string }> = {
  stage: { seq: 1, kind: "restore-stage", what: "stage the backup beside the live data" },
  swap: { seq: 2, kind: "restore-swap", what: "swap the restored data in (one atomic step)" },
  settle: { seq: 3, kind: "restore-settle", what: "drop the data set aside" },
};

/** Journals the phases as steps: each phase starts its step and ends the one before. */
class PhaseJournal {
  private open?: { seq: number; kind: string; description: string; t0: number };
  constructor(
    private readonly deps: EngineDeps,
    private readonly rev: Revision,
    private readonly service: string,
    private readonly emit: EventSink,
    private readonly redact: (s: string) => string,
  ) {}

  async pending(): Promise<void> {
    for (const s of Object.values(RESTORE_STEPS))
      await this.deps.store.journalAppend({
        project: this.rev.project,
        env: this.rev.env,
        revision: this.rev.number,
        seq: s.seq,
        kind: s.kind,
        service: this.service,
        description: `${this.service}: ${s.what}`,
        status: "pending",
      });
  }

  async start(phase: RestorePhase): Promise<void> {
    await this.end("ok");
    const s = RESTORE_STEPS[phase];
    this.open = { seq: s.seq, kind: s.kind, description: `${this.service}: ${s.what}`, t0: Date.now() };
    await this.update(s.seq, { status: "running", startedAt: new Date().toISOString() });
    crashPoint(this.rev.number, s.seq);
    this.emit({ type: "step", ...this.base(), status: "running" });
  }

  async end(status: "ok" | "failed", message?: string): Promise<void> {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    const durationMs = Date.now() - o.t0;
    const text = message === undefined ? undefined : this.redact(message);
    await this.update(o.seq, { status, finishedAt: new Date().toISOString(), durationMs, message: text });
    this.emit({ type: "step", ...this.base(o), status, durationMs, message: text });
  }

  private base(o = this.open!) {
    return { seq: o.seq, kind: o.kind, service: this.service, description: o.description };
  }

  private update(seq: number, patch: Parameters<EngineDeps["store"]["journalUpdate"]>[4]) {
    return this.deps.store.journalUpdate(this.rev.project, this.rev.env, this.rev.number, seq, patch);
  }
}

async function startRecord(deps: EngineDeps, resolution: Resolution, rec: BackupRecord, token: string) {
  const spec = resolution.spec;
  const current = await deps.store.currentRevision(spec.project, spec.env);
  return deps.store.createRevision({
    project: spec.project,
    env: spec.env,
    version: current?.version ?? spec.version,
    status: "in-progress",
    snapshot: resolution.snapshot,
    services: [rec.service],
    actor: deps.actor,
    description: `restore ${rec.service} from ${rec.id}`,
    skipChecks: true,
    facts: {
      operation: "restore",
      ...(current ? { previous: current.number } : {}),
      restore: { backup: rec.id, service: rec.service, token },
    },
  });
}

export async function restoreBackup(
  deps: EngineDeps,
  resolution: Resolution,
  id: string,
  opts: { yes?: boolean; emit?: EventSink; force?: boolean } = {},
): Promise<{ backup: BackupRecord; revision: number }> {
  const spec = resolution.spec;
  const emit = opts.emit ?? noopSink;
  // A protected environment refuses before anything is looked up.
  if (!opts.yes && spec.protect?.confirm) throw new Refused(restoreRefusal(spec, id));
  return withBackups(deps, async (b) => {
    const rec = await requireBackup(b, spec, id);
    if (rec.type === "release")
      throw new UsageError(`backup ${id} is a release snapshot; roll back to its revision instead`);
    if (!opts.yes) throw new Refused(restoreRefusal(spec, id, rec.service));
    return withLock(deps, spec, "restore", async () => {
      const { newRestoreToken } = await import("../../backup/index.js");
      const token = newRestoreToken();
      const rev = await startRecord(deps, resolution, rec, token);
      const journal = new PhaseJournal(deps, rev, rec.service, emit, redactorOf(resolution));
      await journal.pending();
      emit({
        type: "log",
        level: "info",
        service: rec.service,
        message: `restoring ${rec.service} from ${id} (revision ${rev.number} in the history)…`,
      });
      const config = configFor(spec, rec);
      let reached: RestorePhase | undefined;
      try {
        await b.restore(id, {
          ...(config ? { config } : {}),
          force: opts.force,
          token,
          phase: (p) => journal.start((reached = p)),
        });
        await journal.end("ok", "the backup's data is live; the data it replaced was dropped");
      } catch (e) {
        await journal.end("failed", errorMessage(e));
        // Past the swap only dropping the replaced data can fail: the backup's data is live.
        const swapped = reached === "settle";
        await finishRecord(
          deps,
          rev,
          swapped ? "completed" : "failed",
          swapped
            ? `restored, but the replaced data set aside was not dropped: ${errorMessage(e)}`
            : `restore failed; the live data was kept: ${errorMessage(e)}`,
        );
        throw new OperationFailed(redactorOf(resolution)(errorMessage(e)));
      }
      await finishRecord(deps, rev, "completed", `${rec.service} restored from ${id}`);
      const alert: EngineEvent = {
        type: "alert",
        kind: "backup.restored",
        severity: "warning",
        service: rec.service,
        revision: rev.number,
        message: `${spec.project} ${spec.env}: ${rec.service} restored from backup ${id} (taken ${rec.startedAt})`,
        data: { id },
      };
      emit(alert);
      return { backup: rec, revision: rev.number };
    });
  });
}

async function finishRecord(deps: EngineDeps, rev: Revision, status: "completed" | "failed", reason: string) {
  const steps = await deps.store.journal(rev.project, rev.env, rev.number);
  for (const s of steps.filter((x) => x.status === "pending"))
    await deps.store.journalUpdate(rev.project, rev.env, rev.number, s.seq, { status: "skipped" });
  await deps.store.updateRevision(rev.project, rev.env, rev.number, {
    status,
    finishedAt: new Date().toISOString(),
    reason,
  });
}
