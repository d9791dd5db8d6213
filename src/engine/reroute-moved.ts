/**
 * Self-heal, run by the daemon's housekeeping: an instance that came back at another address
 * is routed to again. Docker gives a container with a dynamically published port a new host
 * port every time its restart policy starts it again (an OOM kill, a crash), so after such a
 * restart the proxy would keep sending traffic to the old port — connection refused, then
 * "503 no healthy instance" until the next deploy. The instance's record is updated and its
 * service's route set again with the same serving instances.
 */
import type { Instance } from "../drivers/driver.js";
import { proxied } from "../spec/defaults.js";
import type { EngineDeps } from "./context.js";
import { snapshotOf } from "./deployed.js";
import { servesIn } from "./carry.js";
import { buildRoute } from "./strategies/common.js";
import { isWarm } from "./warm.js";

/** Re-route every service whose instances moved; the ids of the moved instances. */
export async function rerouteMoved(
  deps: EngineDeps,
  project: string,
  env: string,
  live: readonly Instance[],
): Promise<string[]> {
  const current = await deps.store.currentRevision(project, env);
  if (!current) return [];
  const byId = new Map(live.map((i) => [i.id, i]));
  const records = await deps.store.listInstances(project, env);
  const moved: Instance[] = [];
  for (const rec of records) {
    const now = byId.get(rec.id);
    if (now?.port === undefined || rec.port === undefined) continue;
    if (now.port === rec.port && now.host === rec.host) continue;
    const updated = { ...rec, host: now.host, port: now.port };
    await deps.store.putInstance(updated);
    moved.push(updated);
  }
  if (!moved.length) return [];
  const spec = snapshotOf(current);
  const after = await deps.store.listInstances(project, env);
  for (const name of new Set(moved.map((m) => m.service))) {
    const svc = spec.services[name];
    if (!svc || !proxied(svc)) continue;
    const serving = after.filter(
      (i) => i.service === name && i.slot === "stable" && !isWarm(i) && servesIn(current, i),
    );
    await (await deps.router()).setRoute(buildRoute(spec, svc, serving));
  }
  return moved.map((m) => m.id);
}
