/**
 * Data-aware operations (issue 7): backups (catalog.ts, backups.ts), restores (restores.ts),
 * migrations (migrations.ts) and the data half of `rollback --with-db` (data-rollback.ts); this
 * file hands the operations over as data (src/operations.ts).
 */
import { UsageError } from "../../errors.js";
import type { Resolution } from "../../spec/resolve.js";
import type { EngineDeps } from "../context.js";
import type { EventSink } from "../events.js";
import { listBackups, pruneBackups, takeBackups, verifyBackup } from "./backups.js";
import { migrate, type MigrateAction } from "./migrations.js";
import { restoreBackup } from "./restores.js";

export * from "./catalog.js";
export * from "./backups.js";
export * from "./restores.js";
export * from "./migrations.js";
export * from "./data-rollback.js";
export { DATA_OPS } from "./operation-names.js";

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export async function runDataOp(
  deps: EngineDeps,
  op: string,
  resolution: Resolution,
  a: Record<string, unknown>,
  ctx: { emit: EventSink; signal?: AbortSignal },
): Promise<unknown> {
  const spec = resolution.spec;
  const need = (k: string) => {
    const v = str(a[k]);
    if (!v) throw new UsageError(`${op}: missing ${k}`);
    return v;
  };
  switch (op) {
    case "backup":
      return takeBackups(deps, spec, { service: str(a.service), emit: ctx.emit });
    case "backups":
      return listBackups(deps, spec, str(a.service));
    case "backup-verify":
      return verifyBackup(deps, spec, need("id"));
    case "backups-prune":
      return pruneBackups(deps, spec, ctx.emit);
    case "restore":
      return restoreBackup(deps, resolution, need("id"), {
        yes: a.yes === true,
        force: a.force === true,
        emit: ctx.emit,
      });
    case "migrate":
      return migrate(deps, resolution, {
        action: need("action") as MigrateAction,
        service: str(a.service),
        to: str(a.to),
        revision: num(a.revision),
        yes: a.yes === true,
        emit: ctx.emit,
        signal: ctx.signal,
      });
    default:
      throw new UsageError(`unknown operation "${op}"`);
  }
}
