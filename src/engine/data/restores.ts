/** `slipway restore`: one backup back into the live service, under the environment lock. */
import type { BackupRecord } from "../../backup/index.js";
import { Refused, UsageError } from "../../errors.js";
import type { ResolvedSpec } from "../../spec/resolved.js";
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

export async function restoreBackup(
  deps: EngineDeps,
  spec: ResolvedSpec,
  id: string,
  opts: { yes?: boolean; emit?: EventSink; force?: boolean } = {},
): Promise<{ backup: BackupRecord }> {
  const emit = opts.emit ?? noopSink;
  // A protected environment refuses before anything is looked up.
  if (!opts.yes && spec.protect?.confirm) throw new Refused(restoreRefusal(spec, id));
  return withBackups(deps, async (b) => {
    const rec = await requireBackup(b, spec, id);
    if (rec.type === "release")
      throw new UsageError(`backup ${id} is a release snapshot; roll back to its revision instead`);
    if (!opts.yes) throw new Refused(restoreRefusal(spec, id, rec.service));
    return withLock(deps, spec, "restore", async () => {
      emit({
        type: "log",
        level: "info",
        service: rec.service,
        message: `restoring ${rec.service} from ${id}…`,
      });
      const config = configFor(spec, rec);
      await b.restore(id, { ...(config ? { config } : {}), force: opts.force });
      const alert: EngineEvent = {
        type: "alert",
        kind: "backup.restored",
        severity: "warning",
        service: rec.service,
        message: `${spec.project} ${spec.env}: ${rec.service} restored from backup ${id} (taken ${rec.startedAt})`,
        data: { id },
      };
      emit(alert);
      return { backup: rec };
    });
  });
}
