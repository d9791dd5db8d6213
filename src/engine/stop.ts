/** `slipway stop` and `destroy`: stop instances, dependents first, and take their routes away. */
import { proxied } from "../spec/defaults.js";
import type { ResolvedSpec } from "../spec/resolved.js";
import type { EngineDeps } from "./context.js";
import type { EventSink } from "./events.js";
import { routeKey } from "./strategies/common.js";

/** Stop every instance (or those of `service`), in reverse dependency order. */
export async function stopAll(
  deps: EngineDeps,
  spec: ResolvedSpec,
  service: string | undefined,
  emit: EventSink,
): Promise<{ stopped: string[] }> {
  const records = await deps.store.listInstances(spec.project, spec.env);
  const insts = records.filter((r) => !service || r.service === service);
  const services = [...new Set(insts.map((i) => i.service))];
  // Reverse dependency order: dependents first.
  const order = Object.keys(spec.services).reverse();
  services.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const stopped: string[] = [];
  for (const name of services) {
    const svc = spec.services[name];
    if (svc && proxied(svc)) await (await deps.router()).removeRoute(routeKey(spec, name)).catch(() => {});
    for (const i of insts.filter((x) => x.service === name)) {
      await deps.driver.stop(i, {
        signal: svc?.stop.signal ?? "SIGTERM",
        graceMs: svc?.stop.grace ?? 10_000,
      });
      await deps.store.removeInstance(i.project, i.env, i.id);
      stopped.push(i.id);
    }
    emit({ type: "log", level: "info", service: name, message: `${name}: stopped` });
  }
  return { stopped };
}

/** Stop everything, drop every artifact, and mark the deployed revision superseded. */
export async function destroyEnvironment(
  deps: EngineDeps,
  spec: ResolvedSpec,
  emit: EventSink,
  opts: { deleteNamespace?: boolean } = {},
): Promise<{ stopped: string[]; removed?: string[] }> {
  const r = await stopAll(deps, spec, undefined, emit);
  for (const s of Object.keys(spec.services)) await deps.driver.prune(spec.project, spec.env, s, []);
  const removed = opts.deleteNamespace
    ? await deps.driver.destroyEnvironment?.(spec.project, spec.env, { deleteNamespace: true })
    : undefined;
  for (const what of removed ?? []) emit({ type: "log", level: "info", message: `deleted ${what}` });
  const cur = await deps.store.currentRevision(spec.project, spec.env);
  if (cur)
    await deps.store.updateRevision(spec.project, spec.env, cur.number, {
      status: "superseded",
      reason: "environment destroyed",
    });
  return removed ? { ...r, removed } : r;
}
