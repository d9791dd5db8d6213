/**
 * Keep-warm: after a promotion the previous slot of a service with a port keeps running for
 * `rollout.keepWarm`, unrouted, so a rollback inside that window is a traffic switch.
 */
import type { Instance } from "../drivers/driver.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineDeps } from "./context.js";

export const isWarm = (i: Instance) => i.warmUntil !== undefined;

/** Stop warm instances whose window is over (or all of a service's, with `all`). */
export async function reapWarm(
  deps: EngineDeps,
  project: string,
  env: string,
  opts: { now?: number; service?: string; all?: boolean; spec?: ResolvedSpec } = {},
): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const stopped: string[] = [];
  const records = await deps.store.listInstances(project, env);
  for (const inst of records) {
    if (!isWarm(inst)) continue;
    if (opts.service && inst.service !== opts.service) continue;
    if (!opts.all && Date.parse(inst.warmUntil as string) > now) continue;
    const svc = opts.spec?.services[inst.service];
    await deps.driver.stop(inst, {
      signal: svc?.stop.signal ?? "SIGTERM",
      graceMs: svc?.stop.grace ?? 10_000,
      retire: "superseded",
    });
    await deps.store.removeInstance(project, env, inst.id);
    stopped.push(inst.id);
  }
  return stopped;
}
