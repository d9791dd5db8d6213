/** `slipway migrate ENV up|down|status`: a migration command as a one-off of a revision's release. */
import { OperationFailed, Refused, UsageError } from "../../errors.js";
import { redactorOf } from "../../util/redact.js";
import type { Resolution } from "../../spec/resolve.js";
import type { ResolvedService, ResolvedSpec } from "../../spec/resolved.js";
import type { Revision } from "../../store/store.js";
import type { EngineDeps } from "../context.js";
import { deployedSpec } from "../deployed.js";
import type { EventSink } from "../events.js";
import { noopSink } from "../events.js";
import { withLock } from "./catalog.js";

export type MigrateAction = "up" | "down" | "status";

export interface MigrationResult {
  service: string;
  action: MigrateAction;
  revision: number;
  version: string;
  command: string;
  exitCode: number;
  output: string;
}

/** A revision's spec with the secrets of the current resolution and its recorded env files. */
export function specOf(rev: Revision, resolution: Resolution): ResolvedSpec {
  return deployedSpec(rev, resolution.secrets);
}

/** Run a migration command as a one-off instance of a revision's release. */
export async function runMigration(
  deps: EngineDeps,
  resolution: Resolution,
  rev: Revision,
  svc: ResolvedService,
  action: MigrateAction,
  opts: { to?: string; signal?: AbortSignal },
): Promise<MigrationResult> {
  const command = svc.migrate?.[action];
  if (!command) throw new UsageError(`service "${svc.name}" declares no migrate.${action}`);
  const spec = specOf(rev, resolution);
  const artRev = rev.facts.artifacts?.[svc.name] ?? rev.number;
  const artifact = await deps.driver.prepare(spec.project, spec.env, svc, artRev, { existingOnly: true });
  const r = await deps.driver.runOnce(
    {
      project: spec.project,
      env: spec.env,
      service: svc,
      revision: rev.number,
      version: rev.version,
      slot: "candidate",
      index: 0,
      env_vars: {
        ...svc.env,
        SLIPWAY_VERSION: rev.version,
        SLIPWAY_ENV: spec.env,
        ...(opts.to !== undefined ? { MIGRATE_TO: opts.to } : {}),
      },
      artifact,
    },
    command,
    { timeoutMs: 600_000, signal: opts.signal },
  );
  return {
    service: svc.name,
    action,
    revision: rev.number,
    version: rev.version,
    command,
    exitCode: r.exitCode,
    output: redactorOf(resolution)(r.output),
  };
}

export const tail = (s: string, n = 15) => s.trimEnd().split("\n").slice(-n).join("\n");

/** The services of `rev` that declare `migrate.<action>` (or the one named, which must). */
function migratingServices(
  spec: ResolvedSpec,
  rev: Revision,
  action: MigrateAction,
  service: string | undefined,
): ResolvedService[] {
  if (service === undefined) {
    const all = Object.values(spec.services).filter((s) => s.migrate?.[action]);
    if (!all.length)
      throw new UsageError(`no service of revision ${rev.number} in ${spec.env} declares migrate.${action}`);
    return all;
  }
  const svc = spec.services[service];
  if (!svc)
    throw new UsageError(
      `no service "${service}" in revision ${rev.number} of ${spec.env} (services: ${Object.keys(spec.services).join(", ")})`,
    );
  if (!svc.migrate?.[action])
    throw new UsageError(`service "${service}" declares no migrate.${action} (services.${service}.migrate)`);
  return [svc];
}

/**
 * `slipway migrate ENV up|down|status [--to N] [SVC]`: the command of the deployed release (or
 * of `revision`) as a one-off; up and down take the environment lock and need --yes when the
 * environment is protected.
 */
export async function migrate(
  deps: EngineDeps,
  resolution: Resolution,
  opts: {
    action: MigrateAction;
    service?: string;
    to?: string;
    revision?: number;
    yes?: boolean;
    emit?: EventSink;
    signal?: AbortSignal;
  },
): Promise<{ action: MigrateAction; revision: number; results: MigrationResult[] }> {
  const cur = resolution.spec;
  const emit = opts.emit ?? noopSink;
  if (!["up", "down", "status"].includes(opts.action))
    throw new UsageError(`migrate: the action is up, down or status, not "${opts.action}"`);
  if (opts.to !== undefined && !/^[A-Za-z0-9._:-]+$/.test(opts.to))
    throw new UsageError(`--to: expected a migration number or name, got "${opts.to}"`);
  let rev: Revision | undefined;
  if (opts.revision !== undefined) {
    rev = await deps.store.getRevision(cur.project, cur.env, opts.revision);
    if (!rev)
      throw new UsageError(
        `revision ${opts.revision} not found in ${cur.env} (see: slipway history ${cur.env})`,
      );
  } else {
    rev = await deps.store.currentRevision(cur.project, cur.env);
    if (!rev)
      throw new UsageError(
        `nothing is deployed in ${cur.env}: migrations run as a one-off of the deployed release (deploy first; a deploy runs migrate.up itself)`,
      );
  }
  const spec = specOf(rev, resolution);
  const services = migratingServices(spec, rev, opts.action, opts.service);
  if (opts.action !== "status" && cur.protect?.confirm && !opts.yes)
    throw new Refused(
      `environment "${cur.env}" is protected: migrate ${opts.action} needs --yes (nothing was changed)`,
    );
  const target = rev;
  const run = async () => {
    const results: MigrationResult[] = [];
    for (const svc of services) {
      emit({
        type: "log",
        level: "info",
        service: svc.name,
        message: `${svc.name}: migrate ${opts.action} (revision ${target.number}, ${target.version})${opts.to !== undefined ? ` to ${opts.to}` : ""}`,
      });
      const r = await runMigration(deps, resolution, target, svc, opts.action, {
        to: opts.to,
        signal: opts.signal,
      });
      results.push(r);
      if (r.exitCode !== 0) {
        const err = new OperationFailed(
          `${svc.name}: migrate ${opts.action} failed (exit ${r.exitCode})${r.output.trim() ? `\n${tail(r.output)}` : ""}`,
        );
        err.details = { results };
        throw err;
      }
    }
    return { action: opts.action, revision: target.number, results };
  };
  return opts.action === "status" ? run() : withLock(deps, cur, `migrate ${opts.action}`, run, emit);
}
