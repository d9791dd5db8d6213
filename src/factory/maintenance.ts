/**
 * What the runtime does for every known environment at once: recovery at start-up and the
 * daemon's periodic tick (warm reaping, self-heal, proxy supervision, the watches).
 */
import type { Slipway } from "../slipway.js";
import type { Resolution } from "../spec/resolve.js";
import type { Store } from "../store/store.js";

export interface MaintenanceContext {
  store: Store;
  slipway(kind: string): Slipway;
  latest(project: string, env: string): Resolution | undefined;
  /** Starts the proxy when it is not running. */
  ensureRouter(): Promise<unknown>;
  crashLoops: { sweep(): Promise<unknown> };
  analysis: { tick(envs: Iterable<{ project: string; env: string }>): Promise<unknown> };
}

type Log = ((msg: string) => void) | undefined;

/** The target kind of an environment's latest revision (process when it has none). */
async function kindOf(store: Store, project: string, env: string): Promise<string> {
  const [latest] = await store.listRevisions(project, env, { limit: 1 });
  return (latest?.snapshot as { target?: { kind?: string } } | undefined)?.target?.kind ?? "process";
}

export async function recoverAll(ctx: MaintenanceContext, log: Log): Promise<void> {
  const seen = new Set<string>();
  for (const i of await ctx.store.allInstances()) seen.add(`${i.project}\u0000${i.env}`);
  // A first deploy killed before any instance was stored still needs its revision closed.
  for (const u of await ctx.store.unfinishedEnvironments()) seen.add(`${u.project}\u0000${u.env}`);
  for (const key of seen) {
    const [project, env] = key.split("\u0000");
    const kind = await kindOf(ctx.store, project, env);
    try {
      const r = await ctx.slipway(kind).recover(project, env);
      if (r) log?.(`recovered ${project}/${env}: ${JSON.stringify(r)}`);
    } catch (e) {
      log?.(`recovery of ${project}/${env} failed: ${(e as Error).message}`);
    }
  }
}

interface EnvState {
  project: string;
  env: string;
  warm: boolean;
  routed: boolean;
}

async function environments(store: Store): Promise<Map<string, EnvState>> {
  const byEnv = new Map<string, EnvState>();
  for (const i of await store.allInstances()) {
    const k = `${i.project}\u0000${i.env}`;
    const e = byEnv.get(k) ?? { project: i.project, env: i.env, warm: false, routed: false };
    e.warm = true; // every environment with instances gets housekeeping (warm reaping, self-heal)
    e.routed ||= i.port !== undefined;
    byEnv.set(k, e);
  }
  return byEnv;
}

export async function tick(ctx: MaintenanceContext, log: Log): Promise<void> {
  const byEnv = await environments(ctx.store);
  const kinds = new Map<EnvState, string>();
  for (const e of byEnv.values()) kinds.set(e, await kindOf(ctx.store, e.project, e.env));
  // The proxy is supervised: if it died, start it again (its routing table is on disk). A
  // Kubernetes environment routes by its Service and never needs the proxy.
  if ([...byEnv.values()].some((e) => e.routed && kinds.get(e) !== "kubernetes")) {
    try {
      await ctx.ensureRouter();
    } catch (e) {
      log?.(`proxy supervision: ${(e as Error).message}`);
    }
  }
  for (const e of byEnv.values()) {
    if (!e.warm) continue;
    const kind = kinds.get(e) ?? "process";
    const touched = await ctx.slipway(kind).maintain(e.project, e.env, ctx.latest(e.project, e.env));
    if (touched.length) log?.(`housekeeping ${e.project}/${e.env}: ${touched.join(", ")}`);
  }
  await ctx.crashLoops.sweep().catch((e: Error) => log?.(`health watch: ${e.message}`));
  await ctx.analysis.tick(byEnv.values()).catch((e: Error) => log?.(`analysis watch: ${e.message}`));
}
